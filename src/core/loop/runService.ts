/**
 * Runs an agent on a task and records everything: the task goes in_progress -> completed/failed, the
 * agent ready -> busy -> ready (or error, with the reason the user must act on), every step becomes a task
 * update, the run row gets tokens, model time and test counts, and the conversation goes to a transcript
 * file beside the database.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { AgentService } from '../agents/agentService';
import type { ChangeBus } from '../changes';
import { AppError, errorMessage } from '../errors';
import type { Run, TaskUpdateKind } from '../model/schemas';
import type { Clock, Logger, WorkspaceFolders } from '../ports';
import { chooseProtocol } from '../protocol';
import { ProviderError } from '../providers';
import type { ProviderService } from '../providers/providerService';
import { runFromRow } from '../store/rows';
import type { Store } from '../store/types';
import type { ActivityService } from '../tasks/activityService';
import type { TaskService } from '../tasks/taskService';
import type { CommandSetup } from '../sandbox/types';
import { createToolRegistry, resolveTestCommand, runCommand, type ApprovalRequest, type ToolRegistry } from '../tools';
import { walk } from '../tools/walk';
import { readHeadBelow } from '../workspace/safeFs';
import { PathSandbox } from '../workspace/sandbox';
import { runAgentLoop, type LoopBudgets, type LoopEvent, type LoopResult } from './agentLoop';
import { systemPrompt, taskMessage } from './prompt';

/** What only the host can answer: the user's approval, workspace trust, the allowlist, the command sandbox. */
export interface RunHost {
  /** `request` says why it asks and where the command would run (show it with `approvalText`). */
  approve(command: string, request?: ApprovalRequest): Promise<boolean>;
  trusted(): boolean;
  allowlist(): readonly string[];
  /** The command sandbox and mode (`commandSetup` in core/sandbox). Without it every command asks. */
  commands?(): CommandSetup | Promise<CommandSetup>;
}

export interface RunOptions {
  signal: AbortSignal;
  host: RunHost;
  onEvent?: (e: LoopEvent) => void;
  budgets?: Partial<LoopBudgets>;
}

/** Provider failures the user has to fix (not a glitch that the next run may not meet). */
const AGENT_ERROR_KINDS = new Set(['model_not_found', 'connection', 'unauthorized', 'tools_unsupported']);

export class RunService {
  private readonly tools: ToolRegistry;

  constructor(
    private readonly d: {
      store: Store;
      agents: AgentService;
      tasks: TaskService;
      activity: ActivityService;
      providers: ProviderService;
      changes: ChangeBus;
      clock: Clock;
      log: Logger;
      workspaceFolders: WorkspaceFolders;
      transcriptsDir: string;
      tools?: ToolRegistry;
    },
  ) {
    this.tools = d.tools ?? createToolRegistry();
  }

  list(taskId?: string): Run[] {
    const rows = taskId
      ? this.d.store.read.all('SELECT * FROM runs WHERE task_id = ? ORDER BY started_at', [taskId])
      : this.d.store.read.all('SELECT * FROM runs ORDER BY started_at');
    return rows.map(runFromRow);
  }

  /** Runs the task's assignee on it. Resolves with the finished run, whatever its outcome. */
  async run(taskId: string, opts: RunOptions): Promise<Run> {
    const { agents, tasks, activity, log } = this.d;
    const task = tasks.get(taskId);
    if (!task.assigneeId) throw new AppError('validation', `"${task.title}" has no agent. Assign it to an agent first.`);
    let agent = agents.get(task.assigneeId);
    if (!agent.enabled) throw new AppError('conflict', `Agent "${agent.name}" is disabled. Enable it first.`);
    if (agent.status === 'busy') throw new AppError('conflict', `Agent "${agent.name}" is busy with another task. Wait for it, or cancel that run.`);
    if (agent.status !== 'ready') agent = agents.setStatus(agent.id, 'ready'); // the user retries after an error
    tasks.transition(taskId, 'in_progress');
    try {
      agents.setStatus(agent.id, 'busy', `Working on "${task.title}"`);
    } catch (e) {
      tasks.transition(taskId, 'pending');
      throw e;
    }
    const run: Run = {
      id: randomUUID(), taskId, agentId: agent.id, startedAt: this.d.clock.now(), endedAt: null, outcome: 'running', reason: null,
      steps: 0, promptTokens: 0, completionTokens: 0, modelMs: 0, testsPassed: 0, testsFailed: 0, transcript: null,
    };
    this.d.store.mutate(tx =>
      tx.run('INSERT INTO runs (id, task_id, agent_id, started_at, outcome, owner) VALUES (?, ?, ?, ?, ?, ?)', [run.id, taskId, agent.id, run.startedAt, 'running', OWNER]),
    );
    this.d.changes.fire({ entity: 'run', op: 'created', id: run.id, taskId, origin: 'local' });

    const update = (kind: TaskUpdateKind, body: string) => {
      try {
        activity.appendUpdate({ taskId, agentId: agent.id, kind, body: body.slice(0, 20_000) });
      } catch (e) {
        log.warn(`[run] could not record an update: ${errorMessage(e)}`);
      }
    };
    // Cancelled on the board (here or in another window) while running: stop the run too.
    const board = new AbortController();
    const signal = AbortSignal.any([opts.signal, board.signal]);
    const watch = this.d.changes.event(() => {
      if (!board.signal.aborted && tasks.find(taskId)?.status !== 'in_progress') board.abort();
    });
    const events: LoopEvent[] = [];
    let result: LoopResult | undefined;
    let failure: string | undefined;
    let errorKind: string | undefined;
    try {
      const provider = this.d.providers.client(agent.providerId);
      const info = await provider.probe(agent.model, signal);
      const protocol = chooseProtocol(info.capabilities, agent.settings.toolProtocol ?? 'auto', agent.model);
      const numCtx = agent.settings.numCtx ?? Math.min(info.contextLength ?? 8192, 8192);
      const folder = await agents.ensureFolder(agent);
      const sandbox = new PathSandbox({ workspaceRoots: this.d.workspaceFolders.folders(), writeRoot: folder });
      const explicitTests = task.testCommand ?? agent.settings.testCommand;
      const testCommand = explicitTests ?? (await resolveTestCommand(folder))?.command;
      const unread = activity.inbox(agent.id, { unreadOnly: true });
      const names = new Map(agents.list().map(a => [a.id, a.name]));
      const feedback = activity.updates(taskId).filter(u => u.kind === 'feedback').map(u => u.body);
      const attachments = await Promise.all(task.attachments.map(async p => ({ path: p, content: await readAttachment(sandbox, p) })));
      update('status', `${agent.name} started (model ${agent.model}, ${protocol} tool protocol, context ${numCtx} tokens)`);
      let plans = 0;
      result = await runAgentLoop(
        {
          provider,
          model: agent.model,
          tools: this.tools,
          protocol,
          system: p => systemPrompt({ agent, folderLabel: sandbox.writeRootLabel, testCommand }, this.tools.specs(), p),
          task: taskMessage({
            agent, task: tasks.get(taskId), folderLabel: sandbox.writeRootLabel, tree: await listing(folder, signal), attachments, feedback,
            messages: unread.map(m => `${(m.fromAgent && names.get(m.fromAgent)) ?? 'user'}: ${m.body}`),
            testCommand,
          }),
          toolContext: {
            sandbox, cwd: folder, runCommand, approve: (c, r) => opts.host.approve(c, r), trusted: opts.host.trusted(), allowlist: opts.host.allowlist(),
            commands: await opts.host.commands?.(),
            testCommand: explicitTests,
            onProgress: text => update(plans++ === 0 ? 'plan' : 'progress', text),
            sendMessage: (to, body) => {
              const target = to === '*' || to === 'all' ? null : agents.findByName(to);
              if (target === undefined) throw new AppError('validation', `There is no agent named "${to}". Agents: ${[...names.values()].join(', ')}.`);
              activity.send({ fromAgent: agent.id, toAgent: target?.id ?? null, taskId, body });
            },
          },
          budgets: { numCtx, ...opts.budgets, ...(agent.settings.maxSteps ? { maxSteps: agent.settings.maxSteps } : {}) },
          temperature: agent.settings.temperature,
        },
        signal,
        e => {
          if (e.type !== 'delta') events.push(e); // the transcript keeps whole replies, not their pieces
          this.record(e, update);
          opts.onEvent?.(e);
        },
      );
      activity.markRead(unread.map(m => m.id));
      if (result.outcome !== 'completed') {
        failure = result.reason;
        errorKind = result.errorKind;
      }
    } catch (e) {
      if (signal.aborted) failure = 'Cancelled by user';
      else {
        failure = errorMessage(e);
        errorKind = ProviderError.isProviderError(e) ? e.kind : 'internal';
      }
      log.warn(`[run] ${agent.name} on "${task.title}": ${failure}`);
    } finally {
      watch.dispose();
      const outcome = result?.outcome === 'completed' ? 'completed' : signal.aborted ? 'cancelled' : failure && errorKind ? 'error' : 'failed';
      const transcript = this.writeTranscript(run.id, result, events);
      const ended: Run = {
        ...run, endedAt: this.d.clock.now(), outcome, reason: failure ?? null, steps: result?.steps ?? 0,
        promptTokens: result?.promptTokens ?? 0, completionTokens: result?.completionTokens ?? 0, modelMs: result?.modelMs ?? 0,
        testsPassed: result?.testsPassed ?? 0, testsFailed: result?.testsFailed ?? 0, transcript,
      };
      this.d.store.mutate(tx =>
        tx.run(
          'UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, steps = ?, prompt_tokens = ?, completion_tokens = ?, model_ms = ?, tests_passed = ?, tests_failed = ?, transcript = ? WHERE id = ?',
          [ended.endedAt, ended.outcome, ended.reason, ended.steps, ended.promptTokens, ended.completionTokens, ended.modelMs, ended.testsPassed, ended.testsFailed, ended.transcript, run.id],
        ),
      );
      this.d.changes.fire({ entity: 'run', op: 'updated', id: run.id, taskId, origin: 'local' });
      this.finishTask(taskId, result, failure);
      const agentError = errorKind && AGENT_ERROR_KINDS.has(errorKind) ? failure : undefined;
      try {
        if (agents.find(agent.id)) agents.setStatus(agent.id, agentError ? 'error' : 'ready', agentError ?? null);
      } catch (e) {
        log.error(`[run] could not reset ${agent.name}'s status: ${errorMessage(e)}`);
      }
      log.info(`[run] ${agent.name} on "${task.title}": ${outcome}${failure ? ` (${failure})` : ''}, ${ended.steps} steps, ${ended.promptTokens + ended.completionTokens} tokens`);
      // eslint-disable-next-line no-unsafe-finally
      return ended;
    }
  }

  /**
   * Runs left 'running' by a window that is gone (VS Code killed or crashed mid-run): the run ends as an
   * error, its task fails with the reason (ready to retry), its agent is ready again. Runs owned by a live
   * process (another open window) are left alone. Returns how many were recovered.
   */
  recoverInterrupted(): number {
    const reason = 'Interrupted: the VS Code window running it closed before it finished.';
    const stale = this.d.store.read
      .all<{ id: string; task_id: string; agent_id: string; owner: string | null }>(`SELECT id, task_id, agent_id, owner FROM runs WHERE outcome = 'running'`)
      .filter(r => !ownerAlive(r.owner));
    for (const r of stale) {
      this.d.store.mutate(tx => tx.run(`UPDATE runs SET outcome = 'error', reason = ?, ended_at = ? WHERE id = ? AND outcome = 'running'`, [reason, this.d.clock.now(), r.id]));
      const task = this.d.tasks.find(r.task_id);
      if (task?.status === 'in_progress') this.d.tasks.transition(task.id, 'failed', { failureReason: reason });
      const agent = this.d.agents.find(r.agent_id);
      if (agent?.status === 'busy') this.d.agents.setStatus(agent.id, 'ready');
      this.d.log.warn(`[run] recovered an interrupted run of "${task?.title ?? r.task_id}"`);
    }
    return stale.length;
  }

  private finishTask(taskId: string, result: LoopResult | undefined, failure: string | undefined): void {
    try {
      if (result?.outcome === 'completed') {
        this.d.activity.appendUpdate({ taskId, kind: 'result', body: result.result ?? '' });
        this.d.tasks.transition(taskId, 'completed', { result: result.result ?? '' });
      } else {
        this.d.tasks.transition(taskId, 'failed', { failureReason: failure ?? 'The run ended without a result.' });
      }
    } catch (e) {
      // Cancelled from the board while running: the task already left in_progress.
      this.d.log.warn(`[run] task not moved on: ${errorMessage(e)}`);
    }
  }

  private record(e: LoopEvent, update: (kind: TaskUpdateKind, body: string) => void): void {
    switch (e.type) {
      case 'action':
        if (e.call.name !== 'report_progress' && e.call.name !== 'complete' && e.call.name !== 'fail') update('tool', describeCall(e.call.name, e.call.args));
        break;
      case 'tool':
        if (!e.result.ok && e.call.name !== 'run_tests') update('error', `${e.call.name}: ${e.result.output.split('\n')[0]}`);
        break;
      case 'tests':
        update('test', `${e.passed} passed, ${e.failed} failed${e.beforeComplete ? ' (checked before completing)' : ''}`);
        break;
      case 'malformed':
        update('error', `Unusable reply (${e.count} in a row): ${e.error.split('\n')[0]}`);
        break;
      case 'retry':
        update('progress', `Model server problem, retrying in ${Math.round(e.delayMs / 1000)} s: ${e.reason}`);
        break;
      case 'protocol':
        update('progress', `Switched from ${e.from} to ${e.to} tool calls: ${e.reason}`);
        break;
      case 'truncated':
        update('error', `The server silently dropped part of the prompt (it read ${e.reported} tokens of about ${e.estimated}). Old tool output was condensed; raise num_ctx if this repeats.`);
        break;
      case 'condensed':
        update('progress', `Condensed old tool output (about ${e.savedTokens} tokens): ${e.reason}`);
        break;
    }
  }

  private writeTranscript(runId: string, result: LoopResult | undefined, events: LoopEvent[]): string | null {
    try {
      fs.mkdirSync(this.d.transcriptsDir, { recursive: true });
      const file = path.join(this.d.transcriptsDir, `${runId}.json`);
      fs.writeFileSync(file, JSON.stringify({ messages: result?.messages ?? [], events }, null, 1));
      return file;
    } catch (e) {
      this.d.log.warn(`[run] transcript not written: ${errorMessage(e)}`);
      return null;
    }
  }
}

/** This process, as the owner of the runs it starts. */
const OWNER = `${os.hostname()}:${process.pid}`;

function ownerAlive(owner: string | null): boolean {
  const m = owner?.match(/^(.*):(\d+)$/);
  if (!m) return false;
  if (m[1] !== os.hostname()) return true; // another machine's process: it cannot be checked from here
  if (Number(m[2]) === process.pid) return true;
  try {
    process.kill(Number(m[2]), 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function describeCall(name: string, args: Record<string, unknown>): string {
  const target = args.path ?? args.command ?? args.query ?? args.to ?? '';
  return `${name}${target ? ` ${String(target).slice(0, 200)}` : ''}`;
}

async function listing(folder: string, signal: AbortSignal): Promise<string> {
  const lines: string[] = [];
  for await (const e of walk(folder, { recursive: true, maxDepth: 6, signal })) {
    if (lines.length >= 300) break;
    lines.push(`${'  '.repeat(e.depth)}${path.basename(e.abs)}${e.kind === 'dir' ? '/' : ''}`);
  }
  return lines.join('\n');
}

async function readAttachment(sandbox: PathSandbox, p: string): Promise<string> {
  try {
    const abs = sandbox.resolveRead(p);
    // Opened without following links, regular files only, at most 64 KB read (never a FIFO or device).
    const buf = readHeadBelow(sandbox.rootOf(abs, 'read'), abs, 64 * 1024, p);
    if (!buf) return '(could not read it: the file does not exist)';
    return buf.toString('utf8');
  } catch (e) {
    return `(could not read it: ${errorMessage(e)})`;
  }
}
