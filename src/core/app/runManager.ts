/**
 * The runs of this process: start (one-mutation claim, then the executor), the one cancel, lease renewal,
 * and a dispose that waits until every run has ended and been recorded before the store closes.
 */
import { randomUUID } from 'node:crypto';
import * as os from 'node:os';
import { touchesTask, type ChangeBus } from '../changes';
import { AppError, errorMessage } from '../errors';
import { Emitter, type Disposable } from '../events';
import type { LoopEvent } from '../loop/agentLoop';
import { AGENT_ERROR_KINDS, NO_TESTS_NOTE, type RunExecutor } from '../loop/runService';
import type { Run, Task } from '../model/schemas';
import type { Clock, Logger } from '../ports';
import type { Store } from '../store/types';
import type { ProviderMonitor } from '../scheduling/providerMonitor';
import { mustRead, transitionTx } from '../tasks/taskService';
import { claimTx, expireLeasesTx, finishTx, renewTx, type Claim } from './claims';
import { DEFAULT_REVIEW, type ReviewPolicy } from './review';

export interface SchedulerSettings {
  /** Take pending tasks from the board by themselves. */
  autoRun: boolean;
  /** Interruptions (lease expiries, reloads) after which a task fails instead of going back to the queue. */
  maxAttempts: number;
  /** How long a claim stays valid without renewal. */
  leaseMs: number;
}

/** Loop guards that mean "stuck": the fallback agent gets one try. */
const STUCK_KINDS = new Set(['malformed', 'repeated', 'step_limit']);

export const DEFAULT_SCHEDULER: SchedulerSettings = { autoRun: false, maxAttempts: 3, leaseMs: 30_000 };

export interface StartRequest {
  taskId: string;
  agentId?: string;
  providerId?: string;
  reason?: string;
  /** A person asked for it (an agent in error may try again). */
  manual: boolean;
  onEvent?: (e: LoopEvent) => void;
}

export type StopWhy = 'cancel' | 'board' | 'shutdown' | 'lease';

export interface RunEvent {
  taskId: string;
  runId: string;
  agentId: string;
  event: LoopEvent;
}

interface Live {
  taskId: string;
  runId: string;
  claim: Claim;
  ac: AbortController;
  why?: StopWhy;
  done: Promise<Run>;
}

export class RunManager implements Disposable {
  /** This process as a lease owner: host, pid and a random part, so a reused pid never passes for us. */
  readonly owner = `${os.hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private readonly live = new Map<string, Live>();
  private readonly startedEmitter = new Emitter<{ taskId: string; runId: string; agentId: string }>();
  private readonly endedEmitter = new Emitter<{ taskId: string; run: Run; requeued: boolean }>();
  private readonly eventEmitter = new Emitter<RunEvent>();
  private readonly sub: Disposable;
  private disposing = false;
  readonly onDidStart = this.startedEmitter.event;
  readonly onDidEnd = this.endedEmitter.event;
  /** Every loop event of every run in this process (the live transcript). */
  readonly onRunEvent = this.eventEmitter.event;

  constructor(
    private readonly d: {
      store: Store;
      changes: ChangeBus;
      executor: RunExecutor;
      monitor?: ProviderMonitor;
      clock: Clock;
      log: Logger;
      settings: () => SchedulerSettings;
      review?: () => ReviewPolicy;
    },
  ) {
    // Cancelled on the board (here, in another window, by the API), or the lease taken over: stop the run.
    this.sub = d.changes.event(c => {
      for (const l of this.live.values()) {
        if (l.ac.signal.aborted || !touchesTask(c, l.taskId)) continue;
        const t = d.store.read.get<{ status: string; lease_owner: string | null }>('SELECT status, lease_owner FROM tasks WHERE id = ?', [l.taskId]);
        if (!t || t.status !== 'in_progress') this.abort(l, 'board');
        else if (t.lease_owner !== this.owner) this.abort(l, 'lease');
      }
    });
  }

  isRunning(taskId: string): boolean {
    return this.live.has(taskId);
  }

  running(): string[] {
    return [...this.live.keys()];
  }

  /** The run of a task in this process, to wait for it. */
  whenDone(taskId: string): Promise<Run> | undefined {
    return this.live.get(taskId)?.done;
  }

  /**
   * Claims the task in one mutation and runs it in the background. Throws at once when it cannot start
   * (no free slot: AppError 'no_slot'; busy or disabled agent; task not pending).
   */
  start(req: StartRequest): { runId: string; claim: Claim; done: Promise<Run> } {
    if (this.disposing) throw new AppError('conflict', 'AI2AI is shutting down; the task stays in the queue.');
    const s = this.d.settings();
    const runId = randomUUID();
    const claim = this.d.store.mutate(tx =>
      claimTx(tx, {
        taskId: req.taskId, agentId: req.agentId, providerId: req.providerId, runId, owner: this.owner, leaseMs: s.leaseMs,
        now: this.d.clock.now(), reason: req.reason, manual: req.manual,
      }),
    );
    const ac = new AbortController();
    const live: Live = { taskId: req.taskId, runId, claim, ac, done: undefined as unknown as Promise<Run> };
    this.live.set(req.taskId, live);
    this.d.monitor?.markLoaded(claim.provider.id, claim.agent.model);
    this.startedEmitter.fire({ taskId: req.taskId, runId, agentId: claim.agent.id });
    live.done = this.execute(live, req).finally(() => this.live.delete(req.taskId));
    return { runId, claim, done: live.done };
  }

  /**
   * The one cancel, whoever asks: the task ends `cancelled` and its run (in this window or another one,
   * which sees the change) stops within a second. A task that is not running is cancelled on the board.
   */
  cancel(taskId: string, reason = 'Cancelled by user'): Task {
    const task = this.d.store.mutate(tx => {
      const t = mustRead(tx, taskId);
      // A running task keeps its lease until its run ends, so no other window takes its run row for dead.
      return transitionTx(tx, taskId, 'cancelled', { failureReason: reason, leaseOwner: t.leaseOwner, leaseExpiresAt: t.leaseExpiresAt }, this.d.clock.now());
    });
    const l = this.live.get(taskId);
    if (l) this.abort(l, 'cancel');
    return task;
  }

  /** Renews the leases of this process's runs; a run whose lease another window took over stops. */
  renewLeases(): void {
    if (!this.live.size) return;
    const s = this.d.settings();
    const lost = this.d.store.mutate(tx => renewTx(tx, this.owner, [...this.live.keys()], this.d.clock.now(), s.leaseMs));
    for (const id of lost) {
      const l = this.live.get(id);
      if (l && !l.ac.signal.aborted) this.abort(l, 'lease');
    }
  }

  /** Returns expired leases' tasks to the queue (any window may); returns their ids. */
  expireLeases(): string[] {
    const s = this.d.settings();
    const now = this.d.clock.now();
    // A cheap read first: most ticks find nothing and need no lock.
    const any = this.d.store.read.get(
      `SELECT 1 AS x FROM tasks WHERE status = 'in_progress' AND (lease_expires_at IS NULL OR lease_expires_at < ?)
       UNION ALL SELECT 1 FROM runs r JOIN tasks t ON t.id = r.task_id WHERE r.outcome = 'running' AND t.status <> 'in_progress' AND (t.lease_expires_at IS NULL OR t.lease_expires_at < ?) LIMIT 1`,
      [now, now],
    );
    if (!any) return [];
    const ours = new Set(this.live.keys());
    const ids = this.d.store.mutate(tx => expireLeasesTx(tx, now, s.maxAttempts));
    for (const id of ids) if (!ours.has(id)) this.d.log.warn(`[scheduler] a run of task ${id} stopped renewing its lease; the task is back in the queue`);
    return ids;
  }

  private abort(l: Live, why: StopWhy): void {
    l.why ??= why;
    l.ac.abort(new AppError('cancelled', `Run stopped (${why}).`));
  }

  private async execute(l: Live, req: StartRequest): Promise<Run> {
    const { claim } = l;
    const ex = await this.d.executor.execute(claim, {
      signal: l.ac.signal,
      onEvent: e => {
        req.onEvent?.(e);
        this.eventEmitter.fire({ taskId: l.taskId, runId: l.runId, agentId: claim.agent.id, event: e }, err => this.d.log.error('[run] event listener failed', err));
      },
    });
    const r = ex.result;
    const aborted = l.ac.signal.aborted;
    let outcome: Run['outcome'];
    let reason = ex.failure;
    let errorKind = ex.errorKind;
    let result = r?.result;
    if (r?.outcome === 'completed') {
      outcome = 'completed';
      // Accepted without any test having run: the result and the run say so (a reviewer's verdict needs none).
      if (!r.testsRan && !r.verdict) {
        reason = NO_TESTS_NOTE;
        result = `${r.result ?? ''}\n\n(${NO_TESTS_NOTE})`.trim();
      }
    } else if (r?.waiting && !aborted) {
      outcome = 'interrupted'; // paused, to be resumed when its subtasks are done
      reason = r.waiting;
      errorKind = 'waiting';
    } else if (aborted && (l.why === 'shutdown' || l.why === 'lease')) {
      outcome = 'interrupted';
      reason = l.why === 'shutdown' ? 'AI2AI stopped (window closed or reloaded) while it ran' : 'Another window took the task over after this one stopped renewing its lease';
      errorKind = 'interrupted';
    } else if (aborted) {
      outcome = 'cancelled';
      reason = 'Cancelled by user';
      errorKind = 'cancelled';
    } else if (errorKind === 'connection' && !req.manual) {
      // The server went away under an automatic run: pause its queue; the task resumes when it is back.
      outcome = 'interrupted';
    } else outcome = errorKind && r?.outcome !== 'failed' ? 'error' : 'failed';
    if (errorKind === 'connection') this.d.monitor?.markOffline(claim.provider.id, reason ?? 'unreachable');
    const agentError = errorKind && AGENT_ERROR_KINDS.has(errorKind) ? reason : undefined;
    const escalate = outcome === 'failed' && errorKind && STUCK_KINDS.has(errorKind) ? this.fallbackOf(claim, r?.messages) : undefined;
    const s = this.d.settings();
    let requeued = false;
    try {
      requeued = this.d.store.mutate(tx =>
        finishTx(tx, {
          runId: l.runId, owner: this.owner, outcome, result, reason, errorKind,
          steps: (claim.resumeFrom?.steps ?? 0) + (r?.steps ?? 0), promptTokens: r?.promptTokens ?? 0, completionTokens: r?.completionTokens ?? 0,
          cachedTokens: r?.cachedTokens ?? 0,
          modelMs: r?.modelMs ?? 0, promptMs: r?.promptMs ?? 0, evalMs: r?.evalMs ?? 0, testsPassed: r?.testsPassed ?? 0, testsFailed: r?.testsFailed ?? 0, transcript: ex.transcript,
          now: this.d.clock.now(), maxAttempts: s.maxAttempts, agentError, verdict: r?.verdict, diff: ex.diff, escalate,
          review: this.d.review?.() ?? DEFAULT_REVIEW,
        }),
      ).requeued;
    } catch (e) {
      // The store is gone (closed under us) or failing: the lease runs out and another start resumes it.
      this.d.log.error(`[run] could not record the end of run ${l.runId}: ${errorMessage(e)}`);
    }
    if (outcome !== 'interrupted') this.d.executor.discardSnapshot(l.runId);
    this.d.executor.forgetRun(l.runId);
    const run = this.d.executor.get(l.runId) ?? {
      ...claimRun(l), endedAt: this.d.clock.now(), outcome, reason: reason ?? null, errorKind: errorKind ?? null,
    };
    this.d.log.info(`[run] ${claim.agent.name} on "${claim.task.title}": ${run.outcome}${reason ? ` (${reason})` : ''}`);
    this.endedEmitter.fire({ taskId: l.taskId, run, requeued }, err => this.d.log.error('[run] end listener failed', err));
    return run;
  }

  /** The stronger agent this one names as its fallback, with a summary of what the stuck run tried. */
  private fallbackOf(claim: Claim, messages: readonly { role: string; content: string }[] | undefined): { to: string; summary: string; model?: { providerId: string; model: string } } | undefined {
    const tried = (messages ?? []).filter(m => m.role === 'assistant').slice(-8).map(m => `- ${m.content.replace(/\s+/g, ' ').slice(0, 200)}`);
    const summary = tried.length ? tried.join('\n') : '(nothing usable)';
    const name = claim.agent.settings.fallbackAgent;
    const fm = claim.agent.settings.fallbackModel;
    if (!name) return fm && fm.model !== claim.agent.model ? { to: claim.agent.id, summary, model: { providerId: fm.providerId ?? claim.provider.id, model: fm.model } } : undefined;
    const to = this.d.store.read.get<{ id: string }>('SELECT id FROM agents WHERE name = ? COLLATE NOCASE', [name]);
    if (!to) {
      this.d.log.warn(`[run] ${claim.agent.name}'s fallback agent "${name}" does not exist; the task fails instead of escalating`);
      return undefined;
    }
    return { to: to.id, summary };
  }

  /**
   * Stops every run of this process and waits (up to `timeoutMs`) until each has ended and been recorded:
   * their tasks go back to the queue, to be resumed by the next start. Call before the store closes.
   */
  async shutdown(timeoutMs = 5000): Promise<void> {
    this.disposing = true;
    const all = [...this.live.values()];
    for (const l of all) this.abort(l, 'shutdown');
    if (!all.length) return;
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      Promise.allSettled(all.map(l => l.done)),
      new Promise(resolve => (timer = setTimeout(resolve, timeoutMs))),
    ]);
    if (timer) clearTimeout(timer);
    if (this.live.size) this.d.log.warn(`[run] ${this.live.size} run(s) did not stop in ${timeoutMs} ms; their leases will run out and another start resumes them`);
  }

  dispose(): void {
    this.disposing = true;
    for (const l of this.live.values()) this.abort(l, 'shutdown');
    this.sub.dispose();
    this.startedEmitter.dispose();
    this.endedEmitter.dispose();
    this.eventEmitter.dispose();
  }
}

function claimRun(l: Live): Run {
  return {
    id: l.runId, taskId: l.taskId, agentId: l.claim.agent.id, agentName: l.claim.agent.name, startedAt: 0, endedAt: null, outcome: 'running', reason: null, steps: 0,
    promptTokens: 0, completionTokens: 0, modelMs: 0, testsPassed: 0, testsFailed: 0, transcript: null, providerId: l.claim.provider.id,
    model: l.claim.agent.model, errorKind: null, resumedFrom: l.claim.resumeFrom?.runId ?? null, cachedTokens: 0, diff: null,
  };
}
