/**
 * Executes one claimed run (see `core/app/`): every step becomes a task update and the conversation goes to
 * a transcript file beside the database, rewritten after every step so an interrupted run can resume.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentService } from '../agents/agentService';
import { MAX_CHANGE_BYTES, normalizeAttachment, readOrNull, type ChangeSetService } from '../changesets/changeSetService';
import type { Claim } from '../app/claims';
import { AppError, errorMessage } from '../errors';
import type { Run, TaskUpdateKind } from '../model/schemas';
import type { Clock, Logger, WorkspaceFolders } from '../ports';
import { chooseProtocol } from '../protocol';
import { ProviderError, type ChatMessage, type LlmProvider, type ModelInfo } from '../providers';
import type { ProviderService } from '../providers/providerService';
import { runFromRow } from '../store/rows';
import type { Store } from '../store/types';
import type { ActivityService } from '../tasks/activityService';
import type { TaskService } from '../tasks/taskService';
import { createToolRegistry, resolveTestCommand, runCommand, type ProposalPort, type ToolRegistry } from '../tools';
import { walk } from '../tools/walk';
import { PathSandbox } from '../workspace/sandbox';
import { runAgentLoop, type LoopBudgets, type LoopEvent, type LoopResult } from './agentLoop';
import { systemPrompt, taskMessage } from './prompt';

/** What only the host can answer: the user's approval of a command, and whether the workspace is trusted. */
export interface Approvals {
  approve(command: string): Promise<boolean>;
  trusted(): boolean;
  /** Why a command off the allowlist is refused when there is no one to ask (headless): told to the model and on the task. */
  refusal?: string;
}

/** How runs are bounded: from the host's settings (CoreSettings), never read per call by a front end. */
export interface RunSettings {
  budgets: Partial<LoopBudgets>;
  allowlist: readonly string[];
}

export interface ExecuteOptions {
  signal: AbortSignal;
  onEvent?: (e: LoopEvent) => void;
}

export interface Execution {
  result?: LoopResult;
  /** Why it did not complete, for the user. */
  failure?: string;
  errorKind?: string;
  transcript: string | null;
}

const PROBE_TTL_MS = 10 * 60_000;

/** Provider failures the user has to fix (not a glitch that the next run may not meet). */
export const AGENT_ERROR_KINDS = new Set(['model_not_found', 'unauthorized']);

/**
 * Executes a claimed run: probes the model, builds the prompt (or resumes the interrupted conversation),
 * runs the agent loop, records every step as a task update and keeps the transcript file current after
 * each step. It changes no status: claiming and finishing are the application layer's single mutations.
 */
export class RunExecutor {
  private readonly tools: ToolRegistry;

  constructor(
    private readonly d: {
      store: Store;
      agents: AgentService;
      tasks: TaskService;
      activity: ActivityService;
      providers: ProviderService;
      /** Where writes to attached files outside the agent's folder go (without it, such writes are refused). */
      changeSets?: ChangeSetService;
      clock: Clock;
      log: Logger;
      workspaceFolders: WorkspaceFolders;
      transcriptsDir: string;
      approvals: Approvals;
      settings: () => RunSettings;
      tools?: ToolRegistry;
    },
  ) {
    this.tools = d.tools ?? createToolRegistry();
  }

  list(taskId?: string): Run[] {
    const rows = taskId
      ? this.d.store.read.all('SELECT * FROM runs WHERE task_id = ? ORDER BY started_at, rowid', [taskId])
      : this.d.store.read.all('SELECT * FROM runs ORDER BY started_at, rowid');
    return rows.map(runFromRow);
  }

  get(runId: string): Run | undefined {
    const row = this.d.store.read.get('SELECT * FROM runs WHERE id = ?', [runId]);
    return row && runFromRow(row);
  }

  private readonly probes = new Map<string, { info: ModelInfo; at: number }>();

  /** A model's capabilities, asked once per provider, URL and model for a while (they change only with the model). */
  private async probe(providerId: string, provider: LlmProvider, model: string, signal: AbortSignal): Promise<ModelInfo> {
    const key = `${providerId}\u0000${provider.baseUrl}\u0000${model}`;
    const hit = this.probes.get(key);
    if (hit && this.d.clock.now() - hit.at < PROBE_TTL_MS) return hit.info;
    const info = await provider.probe(model, signal);
    this.probes.set(key, { info, at: this.d.clock.now() });
    return info;
  }

  transcriptPath(runId: string): string {
    return path.join(this.d.transcriptsDir, `${runId}.json`);
  }

  /** The conversation an interrupted run left in its transcript, if it can be read. */
  readTranscript(runId: string): ChatMessage[] | undefined {
    try {
      const data = JSON.parse(fs.readFileSync(this.transcriptPath(runId), 'utf8')) as { messages?: ChatMessage[] };
      return Array.isArray(data.messages) && data.messages.length > 1 ? data.messages : undefined;
    } catch {
      return undefined;
    }
  }

  async execute(claim: Claim, opts: ExecuteOptions): Promise<Execution> {
    const { agents, activity, log } = this.d;
    const { agent, task, runId } = claim;
    const taskId = task.id;
    const signal = opts.signal;
    const settings = this.d.settings();
    const update = (kind: TaskUpdateKind, body: string) => {
      try {
        activity.appendUpdate({ taskId, agentId: agent.id, kind, body: body.slice(0, 20_000) });
      } catch (e) {
        log.warn(`[run] could not record an update: ${errorMessage(e)}`);
      }
    };
    const events: LoopEvent[] = [];
    let result: LoopResult | undefined;
    let failure: string | undefined;
    let errorKind: string | undefined;
    let lastMessages: readonly ChatMessage[] = [];
    const transcriptFile = this.transcriptPath(runId);
    try {
      const provider = this.d.providers.client(claim.provider.id);
      const info = await this.probe(claim.provider.id, provider, agent.model, signal);
      const protocol = chooseProtocol(info.capabilities, agent.settings.toolProtocol ?? 'auto', agent.model);
      const numCtx = agent.settings.numCtx ?? Math.min(info.contextLength ?? 8192, 8192);
      const folder = await agents.ensureFolder(agent);
      const sandbox = new PathSandbox({ workspaceRoots: this.d.workspaceFolders.folders(), writeRoot: folder });
      const explicitTests = task.testCommand ?? agent.settings.testCommand;
      const testCommand = explicitTests ?? (await resolveTestCommand(folder))?.command;
      const unread = activity.inbox(agent.id, { unreadOnly: true });
      const names = new Map(agents.list().map(a => [a.id, a.name]));
      const feedback = activity.updates(taskId).filter(u => u.kind === 'feedback').map(u => u.body);
      const proposals = this.proposalPort(claim, folder, sandbox);
      const attachments = await Promise.all(
        task.attachments.map(async p => ({ path: p, content: await readAttachment(sandbox, this.d.workspaceFolders.folders()[0], p), proposed: !!proposals?.match(p) })),
      );
      const earlier = claim.resumeFrom ? this.readTranscript(claim.resumeFrom.runId) : undefined;
      const tree = await listing(folder, signal);
      update('status', `${agent.name} ${earlier ? 'resumed' : 'started'} (model ${agent.model} on ${claim.provider.name}, ${protocol} tool protocol, context ${numCtx} tokens)`);
      if (claim.resumeFrom && !earlier) update('progress', 'The interrupted run left no readable transcript: starting over, with the files already in the folder.');
      let plans = 0;
      result = await runAgentLoop(
        {
          provider,
          model: agent.model,
          tools: this.tools,
          protocol,
          system: p => systemPrompt({ agent, folderLabel: sandbox.writeRootLabel, testCommand }, this.tools.specs(), p),
          task: taskMessage({
            agent, task: this.d.tasks.get(taskId), folderLabel: sandbox.writeRootLabel, tree, attachments, feedback,
            messages: unread.map(m => `${(m.fromAgent && names.get(m.fromAgent)) ?? 'user'}: ${m.body}`),
            testCommand,
          }),
          resume: earlier ? { messages: earlier, note: resumeNote(earlier.filter(m => m.role === 'assistant').length, sandbox.writeRootLabel, tree) } : undefined,
          checkpoint: messages => {
            lastMessages = messages;
            this.writeTranscript(transcriptFile, messages, events);
          },
          toolContext: {
            sandbox, cwd: folder, runCommand, approve: c => this.d.approvals.approve(c), trusted: this.d.approvals.trusted(), allowlist: settings.allowlist,
            refusal: this.d.approvals.refusal,
            proposals,
            testCommand: explicitTests,
            onProgress: text => update(plans++ === 0 ? 'plan' : 'progress', text),
            sendMessage: (to, body) => {
              const target = to === '*' || to === 'all' ? null : agents.findByName(to);
              if (target === undefined) throw new AppError('validation', `There is no agent named "${to}". Agents: ${[...names.values()].join(', ')}.`);
              activity.send({ fromAgent: agent.id, toAgent: target?.id ?? null, taskId, body });
            },
          },
          budgets: { numCtx, ...settings.budgets, ...(agent.settings.maxSteps ? { maxSteps: agent.settings.maxSteps } : {}) },
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
    }
    const transcript = this.writeTranscript(transcriptFile, result?.messages ?? lastMessages, events);
    return { result, failure, errorKind, transcript };
  }

  /**
   * The task's attached files outside the agent's folder, as the tools see them: a path naming one (as
   * shown in the prompt, or relative to the folder) reads and writes the change set. `before` is the file
   * as it was when this run read it, so a later edit by someone else is a conflict, never overwritten.
   */
  private proposalPort(claim: Claim, folder: string, sandbox: PathSandbox): ProposalPort | undefined {
    const cs = this.d.changeSets;
    const root = this.d.workspaceFolders.folders()[0];
    if (!cs || !root) return undefined;
    const byAbs = new Map<string, string>();
    for (const a of claim.task.attachments) {
      const rel = normalizeAttachment(a);
      const abs = path.resolve(root, rel);
      if (rel.startsWith('../') || path.isAbsolute(rel) || sandbox.inside(abs, sandbox.writeRoot) || !sandbox.inside(abs, root)) continue;
      try {
        sandbox.resolveRead(abs); // no symlink out, nothing in .git
      } catch {
        continue;
      }
      byAbs.set(abs, rel);
    }
    if (!byAbs.size) return undefined;
    const baseline = new Map<string, string | null>();
    for (const [abs, rel] of byAbs) {
      try {
        const st = fs.statSync(abs);
        if (st.size <= MAX_CHANGE_BYTES) baseline.set(rel, readOrNull(abs));
      } catch {
        baseline.set(rel, null);
      }
    }
    const names = new Set(byAbs.values());
    const { task, agent, runId } = claim;
    const pending = (rel: string) => cs.list(task.id).find(c => c.path === rel && (c.status === 'proposed' || c.status === 'conflict'));
    return {
      match: p => {
        const n = normalizeAttachment(p);
        if (names.has(n) && baseline.has(n)) return n;
        const rel = byAbs.get(path.resolve(folder, p.replace(/\\/g, '/')));
        return rel && baseline.has(rel) ? rel : undefined;
      },
      read: async rel => {
        const c = pending(rel);
        return c ? c.after : readOrNull(path.resolve(root, rel));
      },
      propose: async (rel, after) => {
        cs.propose({ taskId: task.id, agentId: agent.id, runId, path: rel, before: baseline.get(rel) ?? null, after });
      },
    };
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

  /** Written to a temp file and renamed, so a crash mid-write leaves the previous checkpoint whole. */
  private writeTranscript(file: string, messages: readonly ChatMessage[], events: LoopEvent[]): string | null {
    try {
      fs.mkdirSync(this.d.transcriptsDir, { recursive: true });
      const tmp = `${file}.tmp`;
      fs.writeFileSync(tmp, JSON.stringify({ messages, events }));
      fs.renameSync(tmp, file);
      return file;
    } catch (e) {
      this.d.log.warn(`[run] transcript not written: ${errorMessage(e)}`);
      return null;
    }
  }
}

/** What a resumed agent is told after its earlier conversation. */
export function resumeNote(steps: number, folderLabel: string, tree: string): string {
  return [
    `Your work on this task was interrupted after ${steps || 'some'} step${steps === 1 ? '' : 's'} (the editor was closed or reloaded); the conversation above is where you were.`,
    `The files in your folder ${folderLabel} are as you left them:`,
    tree || '(empty)',
    'Continue from where you stopped: do not redo steps that already succeeded. Reply with your next action.',
  ].join('\n');
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

/** Attachments name files of the workspace relative to its (first) folder, not to the agent's. */
async function readAttachment(sandbox: PathSandbox, root: string | undefined, p: string): Promise<string> {
  try {
    const abs = sandbox.resolveRead(root && !path.isAbsolute(p) ? path.resolve(root, p) : p);
    const buf = await fs.promises.readFile(abs);
    return buf.subarray(0, 64 * 1024).toString('utf8');
  } catch (e) {
    return `(could not read it: ${errorMessage(e)})`;
  }
}
