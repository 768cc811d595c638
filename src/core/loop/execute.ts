/**
 * The agent runner: executes one claimed run (see `core/app/`). It probes the model, builds the prompt (or
 * resumes the interrupted conversation), runs the agent loop, records every step as a task update and keeps
 * the transcript file current after each step. Only runs need it (the loop, the tools, the protocols, folder
 * snapshots and diffs), so `RunExecutor` loads it when the first run starts; the extension ships it as its
 * own file (dist/runs.js).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { MAX_CHANGE_BYTES, normalizeAttachment, readOrNull } from '../changesets/changeSetService';
import type { Claim } from '../app/claims';
import { AppError, errorMessage } from '../errors';
import type { Task, TaskUpdateKind } from '../model/schemas';
import { chooseProtocol } from '../protocol';
import { ProviderError, type ChatMessage, type LlmProvider, type ModelInfo } from '../providers';
import { createReviewerRegistry, createToolRegistry, resolveTestCommand, runCommand, type ProposalPort, type ToolRegistry } from '../tools';
import { reviewsOf } from '../app/review';
import { diffSnapshots, snapshotFolder, type FolderSnapshot } from '../workspace/folderDiff';
import { walk } from '../tools/walk';
import { readHeadBelow } from '../workspace/safeFs';
import { PathSandbox } from '../workspace/sandbox';
import { formatDuration } from '../util';
import { NO_TESTS_NOTE, runAgentLoop, type LoopEvent, type LoopResult } from './agentLoop';
import { reviewMessage, systemPrompt, taskMessage } from './prompt';
import { runFileName, type ExecuteOptions, type Execution, type RunExecutor, type RunExecutorDeps } from './runService';
import { Teamwork } from './teamwork';

const PROBE_TTL_MS = 10 * 60_000;

export class RunEngine {
  private readonly tools: ToolRegistry;
  private readonly reviewerTools = createReviewerRegistry();
  private readonly team: Teamwork;
  private readonly probes = new Map<string, { info: ModelInfo; at: number }>();

  constructor(
    private readonly d: RunExecutorDeps,
    /** The record of runs: transcripts, diffs, earlier runs. */
    private readonly runs: RunExecutor,
  ) {
    this.tools = d.tools ?? createToolRegistry();
    this.team = new Teamwork(d);
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
    let before: FolderSnapshot | undefined;
    let result: LoopResult | undefined;
    let failure: string | undefined;
    let errorKind: string | undefined;
    let lastMessages: readonly ChatMessage[] = [];
    const transcriptFile = this.runs.transcriptPath(runId);
    try {
      const provider = this.d.providers.client(claim.provider.id);
      const info = await this.probe(claim.provider.id, provider, agent.model, signal);
      const override = agent.settings.toolProtocol ?? 'auto';
      // A model that refused native tools on this provider before starts with the text protocol (choosing a
      // tool protocol for the agent again forgets it: AgentService.edit).
      const refused = (override === 'auto' || override === 'native') && this.d.providers.nativeTools(claim.provider.id, agent.model) === false;
      const protocol = refused ? 'text' : chooseProtocol(info.capabilities, override, agent.model);
      const numCtx = agent.settings.numCtx ?? Math.min(info.contextLength ?? 8192, 8192);
      // A reviewer works in the author's folder, with read-only tools.
      const reviewing = task.reviewOf ? this.reviewContext(task) : undefined;
      const folder = reviewing ? reviewing.folder : await agents.ensureFolder(agent);
      const sandbox = new PathSandbox({ workspaceRoots: this.d.workspaceFolders.folders(), writeRoot: folder });
      const tools = reviewing ? this.reviewerTools : this.tools;
      const explicitTests = task.testCommand ?? (reviewing ? reviewing.author.settings.testCommand : agent.settings.testCommand);
      const testCommand = explicitTests ?? (await resolveTestCommand(folder))?.command;
      if (!reviewing) before = await this.snapshot(runId, folder, claim.resumeFrom?.runId, signal);
      const unread = activity.inbox(agent.id, { unreadOnly: true });
      const names = new Map(agents.list().map(a => [a.id, a.name]));
      const feedback = activity.updates(taskId).filter(u => u.kind === 'feedback').map(u => u.body);
      const roots = this.d.workspaceFolders.folders();
      const proposals = reviewing ? undefined : this.proposalPort(claim, folder, sandbox);
      const attachments = await Promise.all(task.attachments.map(async p => ({ ...(await readAttachment(sandbox, roots[0], folder, p)), proposed: !!proposals?.match(p) })));
      const earlier = claim.resumeFrom ? this.runs.readTranscript(claim.resumeFrom.runId) : undefined;
      const tree = reviewing ? '' : await listing(folder, signal);
      // Delivered in the first prompt: not again as new messages.
      activity.markRead(unread.map(m => m.id));
      const children = claim.resumeFrom ? this.d.tasks.list({ parentId: taskId }) : [];
      update('status', `${agent.name} ${earlier ? 'resumed' : 'started'} (model ${agent.model} on ${claim.provider.name}, ${protocol} tool protocol${refused ? ' (the model refused native tool calls before)' : ''}, context ${numCtx} tokens)`);
      if (claim.resumeFrom && !earlier) update('progress', 'The interrupted run left no readable transcript: starting over, with the files already in the folder.');
      let plans = 0;
      result = await runAgentLoop(
        {
          provider,
          model: agent.model,
          tools,
          protocol,
          system: p => systemPrompt({ agent, folderLabel: sandbox.writeRootLabel, testCommand, reviewing: !!reviewing }, tools.specs(), p),
          task: reviewing
            ? reviewMessage({ ...reviewing.prompt, folderLabel: sandbox.writeRootLabel })
            : taskMessage({
                agent, task: this.d.tasks.get(taskId), folderLabel: sandbox.writeRootLabel, tree, attachments, feedback,
                messages: unread.map(m => `${(m.fromAgent && names.get(m.fromAgent)) ?? 'user'}: ${m.body}`),
                testCommand,
              }),
          resume: earlier
            ? {
                messages: earlier,
                note: children.length && children.every(c => c.status === 'completed' || c.status === 'failed' || c.status === 'cancelled')
                  ? subtasksNote(children, names)
                  : resumeNote(earlier.filter(m => m.role === 'assistant').length, sandbox.writeRootLabel, tree),
              }
            : undefined,
          inbox: () => this.team.deliver(agent.id, taskId, names),
          checkpoint: messages => {
            lastMessages = messages;
            this.writeTranscript(transcriptFile, messages, events);
          },
          toolContext: {
            sandbox, cwd: folder, runCommand, approve: (c, r) => this.d.approvals.approve(c, r), trusted: this.d.approvals.trusted(), allowlist: settings.allowlist,
            commands: await this.d.approvals.commands?.(),
            refusal: this.d.approvals.refusal,
            proposals,
            testCommand: explicitTests,
            onProgress: text => update(plans++ === 0 ? 'plan' : 'progress', text),
            ask: (to, question) => this.team.ask(claim, to, question, names, signal),
            createSubtasks: specs => this.d.createSubtasks?.(taskId, specs) ?? [],
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
          if (e.type === 'protocol' && e.from === 'native') this.rememberNoNativeTools(claim.provider.id, agent.model, e.reason);
          opts.onEvent?.(e);
        },
      );
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
    let diff: string | null = null;
    if (before && result?.outcome === 'completed') diff = await this.writeDiff(runId, before, agents.folderOf(agent));
    return { result, failure, errorKind, transcript, diff };
  }

  /** A model's capabilities, asked once per provider, URL and model for a while (they change only with the model). */
  private async probe(providerId: string, provider: LlmProvider, model: string, signal: AbortSignal): Promise<ModelInfo> {
    const key = `${providerId}\u0000${provider.baseUrl}\u0000${model}`;
    const hit = this.probes.get(key);
    if (hit && this.d.clock.now() - hit.at < PROBE_TTL_MS) return hit.info;
    const info = await provider.probe(model, signal);
    this.probes.set(key, { info, at: this.d.clock.now() });
    return info;
  }

  /** Per-run bookkeeping ends with the run. */
  forgetRun(runId: string): void {
    this.team.forgetRun(runId);
  }

  /** What a reviewer needs: the task under review, its author and folder, the diff of the author's last run, its tests. */
  private reviewContext(task: Task) {
    const { tasks, agents, activity } = this.d;
    const original = tasks.get(task.reviewOf!);
    const author = original.assigneeId ? agents.find(original.assigneeId) : undefined;
    if (!author) throw new AppError('conflict', `The author of "${original.title}" no longer exists, so there is no folder to review. Review it yourself.`);
    const lastRun = this.runs.list(original.id).filter(r => r.agentId === author.id && r.outcome === 'completed').at(-1);
    const d = lastRun?.diff ? this.runs.readDiff(lastRun.diff) : undefined;
    const tests = activity.updates(original.id).filter(u => u.kind === 'test').at(-1)?.body;
    const earlier = reviewsOf(this.d.store.read, original.id).map(r => `Round ${r.round}, ${r.reviewerName}: ${r.verdict === 'approve' ? 'approved' : 'requested changes'}${r.summary ? ` (${r.summary})` : ''}${r.findings.length ? `\n${r.findings.map(f => `- [${f.severity}] ${f.file}${f.line ? `:${f.line}` : ''}: ${f.comment}`).join('\n')}` : ''}`);
    return {
      original,
      author,
      folder: agents.folderOf(author),
      prompt: {
        task: original, authorName: author.name, round: Math.max(1, original.reviewRound), maxRounds: this.d.reviewPolicy?.().maxRounds ?? 3,
        result: original.result ?? '', files: d?.files ?? [], patch: d?.patch ?? '', tests, earlier,
      },
    };
  }

  /** The folder as the run found it (an interrupted run's snapshot when resuming), kept on disk until the run ends. */
  private async snapshot(runId: string, folder: string, resumeFrom: string | undefined, signal: AbortSignal): Promise<FolderSnapshot> {
    const dir = path.join(this.d.transcriptsDir, '..', 'snapshots');
    if (resumeFrom) {
      try {
        const snap = JSON.parse(fs.readFileSync(path.join(dir, runFileName(resumeFrom)), 'utf8')) as FolderSnapshot;
        fs.renameSync(path.join(dir, runFileName(resumeFrom)), path.join(dir, runFileName(runId)));
        return snap;
      } catch {
        // no snapshot kept: take a new one
      }
    }
    const snap = await snapshotFolder(folder, signal);
    try {
      fs.mkdirSync(dir, { recursive: true });
      fs.writeFileSync(path.join(dir, runFileName(runId)), JSON.stringify(snap));
    } catch (e) {
      this.d.log.warn(`[run] folder snapshot not kept: ${errorMessage(e)}`);
    }
    return snap;
  }

  private async writeDiff(runId: string, before: FolderSnapshot, folder: string): Promise<string | null> {
    try {
      const d = diffSnapshots(before, await snapshotFolder(folder, undefined, before));
      const dir = path.join(this.d.transcriptsDir, '..', 'diffs');
      fs.mkdirSync(dir, { recursive: true });
      const file = path.join(dir, runFileName(runId));
      fs.writeFileSync(file, JSON.stringify(d));
      return file;
    } catch (e) {
      this.d.log.warn(`[run] diff not written: ${errorMessage(e)}`);
      return null;
    }
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
      case 'no_tests':
        update('test', `${NO_TESTS_NOTE} No test command is set for this task or agent, and none was detected in the agent's folder.`);
        break;
      case 'malformed':
        update('error', `Reply ${e.count} in a row could not be used. The model was told: ${e.error.split('\n')[0]}`);
        break;
      case 'retry':
        update('progress', `${e.reason} Retrying in ${formatDuration(e.delayMs)} (retry ${e.attempt} of ${e.of}).`);
        break;
      case 'protocol':
        update('progress', `Switched from ${e.from} to ${e.to} tool calls: ${e.reason}`);
        break;
      case 'truncated':
        update('error', `The server silently dropped part of the prompt (it read ${e.reported} tokens of about ${e.estimated}, more than the context window holds). Old tool output was condensed; raise num_ctx if this repeats.`);
        break;
      case 'condensed':
        update('progress', `Condensed old tool output (about ${e.savedTokens} tokens): ${e.reason}`);
        break;
    }
  }

  private rememberNoNativeTools(providerId: string, model: string, reason: string): void {
    try {
      this.d.providers.noteNativeTools(providerId, model, false, reason);
    } catch (e) {
      this.d.log.warn(`[run] could not remember that ${model} takes no native tool calls: ${errorMessage(e)}`);
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

/** What a parent is told when it continues after its subtasks. */
export function subtasksNote(children: readonly Task[], names: Map<string, string>): string {
  return [
    'Your subtasks are done. Their results:',
    ...children.map(c => `- "${c.title}"${c.assigneeId ? ` (${names.get(c.assigneeId) ?? 'an agent'})` : ''}: ${c.status}${c.result ? `: ${c.result.slice(0, 1500)}` : c.failureReason ? `: ${c.failureReason.slice(0, 500)}` : ''}`),
    'Continue your task with these results. Reply with your next action.',
  ].join('\n');
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

/**
 * An attached file: stored relative to the (first) workspace folder, shown to the agent relative to its own
 * folder, which is how its read_file resolves paths.
 */
async function readAttachment(sandbox: PathSandbox, root: string | undefined, folder: string, p: string): Promise<{ path: string; content: string }> {
  const abs = path.isAbsolute(p) || !root ? p : path.join(root, ...p.split('/'));
  const shown = path.relative(folder, abs).split(path.sep).join('/') || p;
  try {
    const resolved = sandbox.resolveRead(abs);
    // Opened without following links, regular files only, at most 64 KB read (never a FIFO or device).
    const buf = readHeadBelow(sandbox.rootOf(resolved, 'read'), resolved, 64 * 1024, p);
    if (!buf) return { path: shown, content: '(could not read it: the file does not exist)' };
    return { path: shown, content: buf.toString('utf8') };
  } catch (e) {
    return { path: shown, content: `(could not read it: ${errorMessage(e)})` };
  }
}
