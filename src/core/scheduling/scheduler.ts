/**
 * The queue. Manual runs and (with auto-run on) every pending task go through it: on every change it makes
 * one decision (`plan`), starts what may start through the RunManager, and keeps, for every task that
 * waits, why ("queued #2 for gemma3:1b on Ollama (this machine)"). A timer renews this window's leases,
 * returns expired ones to the queue and re-checks the model servers.
 */
import { AppError, errorMessage } from '../errors';
import { Emitter, type Disposable } from '../events';
import type { AgentService } from '../agents/agentService';
import type { ChangeBus } from '../changes';
import type { LoopEvent } from '../loop/agentLoop';
import type { Run } from '../model/schemas';
import type { Clock, Logger } from '../ports';
import type { Store } from '../store/types';
import type { TaskService } from '../tasks/taskService';
import type { RunManager, SchedulerSettings } from '../app/runManager';
import { slotsInUse } from '../app/claims';
import { plan, type Plan } from './plan';
import type { ProviderMonitor } from './providerMonitor';
import { loadRecords, rankByScore, teamMeanMs, type AgentScore, type Records } from './score';
import type { Agent, Task } from '../model/schemas';

interface Request {
  resolve(run: Run): void;
  reject(e: unknown): void;
  onEvent?: (e: LoopEvent) => void;
  onWait?: (why: string) => void;
  lastWhy?: string;
}

export interface RequestOptions {
  onEvent?: (e: LoopEvent) => void;
  /** Told why the run waits, whenever that changes (for a progress message). */
  onWait?: (why: string) => void;
}

export class Scheduler implements Disposable {
  private readonly requests = new Map<string, Request>();
  private waiting = new Map<string, string>();
  private records: Records | undefined;
  private pumpQueued = false;
  private timer: ReturnType<typeof setInterval> | undefined;
  private disposed = false;
  private readonly subs: Disposable[] = [];
  private readonly queueEmitter = new Emitter<void>();
  /** Fires when the waiting reasons (queue positions) changed. */
  readonly onDidChangeQueue = this.queueEmitter.event;
  /** The last decision, for tests and the benchmark. */
  lastPlan: Plan | undefined;

  constructor(
    private readonly d: {
      store: Store;
      tasks: TaskService;
      agents: AgentService;
      runs: RunManager;
      monitor: ProviderMonitor;
      changes: ChangeBus;
      clock: Clock;
      log: Logger;
      settings: () => SchedulerSettings;
      /** Timer period for leases and provider checks; default a third of the lease. */
      tickMs?: number;
    },
  ) {}

  /** Starts listening and ticking. */
  start(): void {
    this.subs.push(
      this.d.changes.event(c => {
        if (c.origin === 'reload' || c.changes.some(x => x.entity === 'run')) this.records = undefined;
        this.schedule();
      }),
      this.d.monitor.onDidChange(() => this.schedule()),
    );
    const tick = this.d.tickMs ?? Math.max(200, Math.floor(this.d.settings().leaseMs / 3));
    this.timer = setInterval(() => this.tick(), tick);
    this.timer.unref?.();
    this.tick();
  }

  get autoRun(): boolean {
    return this.d.settings().autoRun;
  }

  /**
   * Runs a task through the queue: it starts as soon as its agent is free and its provider has a slot.
   * Refuses at once what can never start as it is (no agent, disabled agent, not runnable).
   */
  request(taskId: string, opts: RequestOptions = {}): Promise<Run> {
    const task = this.d.tasks.get(taskId);
    if (task.status !== 'pending') throw new AppError('conflict', `"${task.title}" is ${task.status.replace('_', ' ')}; only a pending task can be run.`);
    if (!task.assigneeId) throw new AppError('validation', `"${task.title}" has no agent. Assign it to an agent first.`);
    const agent = this.d.agents.get(task.assigneeId);
    if (!agent.enabled) throw new AppError('conflict', `Agent "${agent.name}" is disabled. Enable it first.`, { disabled: agent.id });
    const existing = this.d.runs.whenDone(taskId);
    if (existing) return existing;
    const already = this.requests.get(taskId);
    if (already) {
      return new Promise<Run>((resolve, reject) => {
        const prev = { ...already };
        already.resolve = r => (prev.resolve(r), resolve(r));
        already.reject = e => (prev.reject(e), reject(e));
      });
    }
    return new Promise<Run>((resolve, reject) => {
      this.requests.set(taskId, { resolve, reject, onEvent: opts.onEvent, onWait: opts.onWait });
      this.pump();
    });
  }

  /** Why a task waits, if it does ("queued #2 for gemma3:1b on Ollama (this machine)"). */
  queueInfo(taskId: string): string | undefined {
    return this.waiting.get(taskId);
  }

  isRequested(taskId: string): boolean {
    return this.requests.has(taskId);
  }

  /** Ranks agents for a task by the scheduler's score (the Assign picker shows the same order and reasons). */
  rank(task: Task, agents: readonly Agent[] = this.d.agents.list()): AgentScore[] {
    const records = this.recordsNow();
    const views = this.d.monitor.views();
    const pending = this.d.tasks.list({ status: ['pending'] });
    return rankByScore(task, agents, {
      records,
      teamMeanMs: teamMeanMs(records),
      queueOf: a => pending.filter(t => t.assigneeId === a.id && t.id !== task.id).length,
      loaded: a => [...views.values()].some(v => (v.provider.id === a.providerId || a.settings.anyProvider) && !!v.loaded?.has(a.model)),
    });
  }

  /** Coalesces triggers: one decision per turn of the event loop. */
  schedule(): void {
    if (this.pumpQueued || this.disposed) return;
    this.pumpQueued = true;
    setImmediate(() => {
      this.pumpQueued = false;
      this.pump();
    });
  }

  /** One decision and its starts. */
  pump(): void {
    if (this.disposed) return;
    try {
      this.settleRequests();
      const settings = this.d.settings();
      if (!settings.autoRun && !this.requests.size && !this.reviewCycleWaiting()) {
        this.setWaiting(new Map());
        return;
      }
      const tasks = this.d.tasks.list({ status: ['pending'] });
      const agents = this.d.agents.list();
      const records = this.recordsNow();
      const queue = new Map<string, number>();
      for (const t of tasks) if (t.assigneeId) queue.set(t.assigneeId, (queue.get(t.assigneeId) ?? 0) + 1);
      const authors = new Map<string, string | null>();
      for (const t of tasks) {
        if (t.reviewOf && !authors.has(t.reviewOf)) authors.set(t.reviewOf, this.d.tasks.find(t.reviewOf)?.assigneeId ?? null);
      }
      // Parents waiting on subtasks, and escalated tasks, go on by themselves.
      const parents = new Set(this.d.store.read.all<{ id: string }>(
        `SELECT DISTINCT parent_id AS id FROM tasks WHERE parent_id IS NOT NULL UNION SELECT id FROM tasks WHERE escalated_from IS NOT NULL AND status = 'pending'`,
      ).map(r => r.id));
      const p = plan({
        auto: t => parents.has(t.id),
        excluded: t => (t.reviewOf ? (authors.get(t.reviewOf) ?? undefined) : undefined),
        tasks,
        requested: new Set(this.requests.keys()),
        autoRun: settings.autoRun,
        agents,
        providers: this.d.monitor.views(),
        slotsUsed: (pid, model) => slotsInUse(this.d.store.read, pid, model),
        score: { records, teamMeanMs: teamMeanMs(records), queueOf: a => queue.get(a.id) ?? 0 },
      });
      this.lastPlan = p;
      for (const s of p.starts) {
        const req = this.requests.get(s.taskId);
        try {
          const started = this.d.runs.start({ taskId: s.taskId, agentId: s.agentId, providerId: s.providerId, reason: s.reason, manual: !!req, onEvent: req?.onEvent });
          if (req) {
            this.requests.delete(s.taskId);
            started.done.then(req.resolve, req.reject);
          }
        } catch (e) {
          // Another window was quicker (task taken, agent busy, slot gone): the next decision sees it.
          if (AppError.is(e, 'no_slot') || AppError.is(e, 'conflict')) {
            this.d.log.debug(`[scheduler] could not start ${s.taskId}: ${errorMessage(e)}`);
            p.waiting.set(s.taskId, AppError.is(e, 'no_slot') ? 'waiting for a free slot' : errorMessage(e));
          } else {
            this.d.log.warn(`[scheduler] could not start ${s.taskId}: ${errorMessage(e)}`);
            if (req) {
              this.requests.delete(s.taskId);
              req.reject(e);
            }
          }
        }
      }
      this.setWaiting(p.waiting);
    } catch (e) {
      this.d.log.error(`[scheduler] decision failed: ${errorMessage(e)}`);
    }
  }

  /** Leases, expiries and provider checks. */
  tick(): void {
    if (this.disposed) return;
    try {
      this.d.runs.renewLeases();
      if (this.d.runs.expireLeases().length) this.schedule();
    } catch (e) {
      this.d.log.warn(`[scheduler] lease upkeep failed: ${errorMessage(e)}`);
    }
    // Also while something waits on a provider coming back (an offline provider, an agent in error), so
    // that what the views show clears by itself; and while reviews, reworks or subtasks wait.
    if (this.autoRun || this.requests.size || this.d.runs.running().length || this.reviewCycleWaiting() || this.d.monitor.hasOffline() || this.d.agents.list().some(a => a.status === 'error')) {
      this.d.monitor.refreshDue().catch(e => this.d.log.warn(`[scheduler] provider check failed: ${errorMessage(e)}`));
    }
  }

  /** Reviews and reworked tasks run without auto-run: is any waiting? */
  private reviewCycleWaiting(): boolean {
    return !!this.d.store.read.get(
      `SELECT 1 AS x FROM tasks t WHERE t.status = 'pending' AND (t.review_of IS NOT NULL OR t.review_round > 0 OR t.parent_id IS NOT NULL
         OR t.escalated_from IS NOT NULL OR EXISTS (SELECT 1 FROM tasks c WHERE c.parent_id = t.id)) LIMIT 1`,
    );
  }

  /** Requests whose task left the queue without starting here (cancelled, deleted, started elsewhere). */
  private settleRequests(): void {
    for (const [id, req] of this.requests) {
      const t = this.d.tasks.find(id);
      if (t?.status === 'pending') continue;
      this.requests.delete(id);
      if (!t) req.reject(new AppError('not_found', 'The task was deleted before it could start.'));
      else if (t.status === 'cancelled') req.reject(new AppError('cancelled', `"${t.title}" was cancelled before it started.`));
      else req.reject(new AppError('conflict', `"${t.title}" is ${t.status.replace('_', ' ')} (started elsewhere).`));
    }
  }

  private setWaiting(next: Map<string, string>): void {
    for (const [id, req] of this.requests) {
      const why = next.get(id) ?? 'starting…';
      if (why !== req.lastWhy) {
        req.lastWhy = why;
        req.onWait?.(why);
      }
    }
    const same = next.size === this.waiting.size && [...next].every(([k, v]) => this.waiting.get(k) === v);
    this.waiting = next;
    if (!same) this.queueEmitter.fire(undefined, e => this.d.log.error('[scheduler] queue listener failed', e));
  }

  private recordsNow(): Records {
    return (this.records ??= loadRecords(this.d.store.read));
  }

  dispose(): void {
    this.disposed = true;
    if (this.timer) clearInterval(this.timer);
    for (const s of this.subs) s.dispose();
    for (const [, req] of this.requests) req.reject(new AppError('cancelled', 'AI2AI stopped before the task could start; it is still on the board.'));
    this.requests.clear();
    this.queueEmitter.dispose();
  }
}
