/**
 * The application layer: the use cases every front end calls (the VS Code adapter today, the REST/MCP API
 * and the headless entry next). Policy lives here and nowhere else: what "run this task" and "start this
 * agent" mean, the one cancel, retry, assignment by the scheduler's score, pulling a model, and a task's
 * details. A front end picks, confirms and shows progress; it decides no state change itself.
 */
import { AppError } from '../errors';
import type { AgentService } from '../agents/agentService';
import type { ChangeSetService, FileChangeStatus } from '../changesets/changeSetService';
import type { RunExecutor } from '../loop/runService';
import { Finding, type Agent, type Message, type Provider, type Review, type Run, type Task, type TaskUpdate } from '../model/schemas';
import type { Clock } from '../ports';
import type { Store } from '../store/types';
import { parseFindingLines } from '../tools/findings';
import { applyVerdictTx, NO_REVIEWER_HINT, reviewById, reviewsOf, type ReviewPolicy } from './review';
import { errorMessage } from '../errors';
import { KNOWN_MODELS, knownModel } from '../providers/catalog';
import { OllamaProvider } from '../providers/ollama';
import type { ChatMessage, Health, PullProgress } from '../providers/types';
import type { LoopEvent } from '../loop/agentLoop';
import type { ProviderMonitor } from '../scheduling/providerMonitor';
import type { ProviderService } from '../providers/providerService';
import type { Scheduler, RequestOptions } from '../scheduling/scheduler';
import type { AgentScore } from '../scheduling/score';
import type { ActivityService } from '../tasks/activityService';
import type { TaskService } from '../tasks/taskService';
import type { RunManager } from './runManager';

/** Run outcomes' error kinds a front end can act on (no text matching). */
export const RUN_ERROR_KINDS = {
  /** The model is not on the server: offer to pull it. */
  modelNotFound: 'model_not_found',
  unreachable: 'connection',
  unauthorized: 'unauthorized',
} as const;

export interface RunDetails extends Run {
  /** The agent's name now, or the one it had when the run started if it was deleted since. */
  agentName: string;
  /** The agent no longer exists (its runs stay in the task's history). */
  agentDeleted: boolean;
  providerName: string | null;
}

/** Everything a task's report, a webview or the API renders, typed. */
/** A model a provider offers, as an agent's model picker shows it. */
export interface ModelChoice {
  name: string;
  sizeBytes?: number;
  /** e.g. "1B", "15.7B". */
  parameterSize?: string;
  quantization?: string;
  /** In memory on the server now (Ollama's /api/ps): it answers without a load. */
  loaded: boolean;
  /** For a suggestion: what it is. */
  detail?: string;
}

/**
 * A provider's own models, or, when its list cannot be read, the models AI2AI knows as suggestions with
 * the reason (the picker then says the list is unavailable and why).
 */
export type ModelList = { ok: true; models: ModelChoice[] } | { ok: false; reason: string; suggestions: ModelChoice[] };

/** A run's conversation: what was sent to the model and what it answered, and the loop's events. */
export interface RunTranscript {
  run: RunDetails;
  taskTitle: string;
  messages: ChatMessage[];
  events: LoopEvent[];
}

export interface TaskDetails {
  task: Task;
  assignee: Pick<Agent, 'id' | 'name' | 'model' | 'status'> | null;
  dependsOn: Array<Pick<Task, 'id' | 'title' | 'status'>>;
  runs: RunDetails[];
  updates: Array<TaskUpdate & { agentName: string | null }>;
  messages: Array<Message & { fromName: string; toName: string }>;
  /** Why it waits, when it is queued. */
  queue?: string;
  running: boolean;
  reviews: Review[];
  review?: ReviewState;
  /** Review tasks of this task (its review rounds), newest last. */
  reviewTasks: Array<Pick<Task, 'id' | 'title' | 'status' | 'assigneeId'>>;
  /** Its change set: files outside the agent's folder it wants to change, and what became of each. */
  changes: Array<{ path: string; status: FileChangeStatus; conflict: string | null; deletes: boolean }>;
}

/** Where a task stands in its review cycle, for the tree ("in review · round 2/3 · @critic"). */
export interface ReviewState {
  round: number;
  maxRounds: number;
  /** The reviewer agent working on it or queued for it. */
  reviewer?: string;
  /** Why nobody reviews it yet. */
  hint?: string;
}

export class Application {
  constructor(
    private readonly d: {
      store: Store;
      clock: Clock;
      review: () => ReviewPolicy;
      agents: AgentService;
      tasks: TaskService;
      activity: ActivityService;
      providers: ProviderService;
      executor: RunExecutor;
      runs: RunManager;
      scheduler: Scheduler;
      monitor?: ProviderMonitor;
      changeSets?: ChangeSetService;
    },
  ) {}

  /**
   * Runs a task through the queue. A failed or cancelled task is put back first (its attempt history
   * kept); a task whose agent is disabled is refused before anything changes.
   */
  async runTask(taskId: string, opts: RequestOptions = {}): Promise<Run> {
    let task = this.d.tasks.get(taskId);
    if (!task.assigneeId) throw new AppError('validation', `"${task.title}" has no agent. Assign it to an agent first.`);
    const agent = this.d.agents.get(task.assigneeId);
    if (!agent.enabled) throw new AppError('conflict', `Agent "${agent.name}" is disabled. Enable it first.`, { disabled: agent.id });
    const live = this.d.runs.whenDone(taskId);
    if (live) return live;
    if (task.status === 'failed' || task.status === 'cancelled') task = this.d.tasks.retry(taskId);
    if (task.status === 'blocked') throw new AppError('conflict', `"${task.title}" waits for its dependencies; it runs once they are completed.`);
    return this.d.scheduler.request(taskId, opts);
  }

  /** The agent's most urgent pending task (priority, then age), or undefined. */
  nextTaskFor(agentId: string): Task | undefined {
    return this.d.tasks.list({ status: ['pending'], assigneeId: agentId })[0];
  }

  /** Starts an agent on its most urgent pending task. */
  startAgent(agentId: string, opts: RequestOptions = {}): Promise<Run> {
    const agent = this.d.agents.get(agentId);
    const next = this.nextTaskFor(agent.id);
    if (!next) throw new AppError('validation', `${agent.name} has no pending task. Assign one to it first.`, { noTask: agent.id });
    return this.runTask(next.id, opts);
  }

  /** The one cancel: the task ends `cancelled`, and its run stops wherever it runs. */
  cancel(taskId: string, reason?: string): Task {
    return this.d.runs.cancel(taskId, reason);
  }

  retry(taskId: string): Task {
    return this.d.tasks.retry(taskId);
  }

  assign(taskId: string, agentId: string | null, reason?: string): Task {
    return this.d.tasks.assign(taskId, agentId, reason);
  }

  /** Agents ranked for a task by the scheduler's score, with its reasons. */
  rankAgents(taskId: string): AgentScore[] {
    return this.d.scheduler.rank(this.d.tasks.get(taskId));
  }

  queueInfo(taskId: string): string | undefined {
    return this.d.scheduler.queueInfo(taskId);
  }

  isRunning(taskId: string): boolean {
    return this.d.runs.isRunning(taskId);
  }

  /** Whether models can be pulled through AI2AI on this provider (Ollama can; others use their own tools). */
  canPull(providerId: string): boolean {
    return this.d.providers.get(providerId).kind === 'ollama';
  }

  /**
   * What a pull of `model` would download, to ask the user first: its size when AI2AI knows the model
   * (undefined otherwise: the API says nothing before the download), and whether it is there already
   * (undefined when the server's list cannot be read).
   */
  async pullInfo(providerId: string, model: string, signal: AbortSignal): Promise<{ provider: Provider; model: string; sizeBytes?: number; present?: boolean }> {
    const provider = this.d.providers.get(providerId);
    let present: boolean | undefined;
    try {
      present = (await this.d.providers.client(provider.id).listModels(signal)).some(m => sameModel(m.name, model));
    } catch {
      // unknown: the pull says what is wrong
    }
    return { provider, model, sizeBytes: knownModel(model)?.sizeBytes, present };
  }

  async pull(providerId: string, model: string, onProgress: (p: PullProgress) => void, signal: AbortSignal): Promise<void> {
    const p: Provider = this.d.providers.get(providerId);
    const client = this.d.providers.client(p.id);
    if (!(client instanceof OllamaProvider)) throw new AppError('validation', `${p.name} is not an Ollama server; pull models with its own tools.`);
    await client.pull(model, onProgress, signal);
    // Agents that were in error for want of this model are ready again once the check sees it.
    await this.d.monitor?.refresh(p.id);
  }

  /**
   * The models a provider serves, for an agent's model picker: name, size, whether loaded now. When the
   * list cannot be read (server down, no key), the known models come back as suggestions, with the reason.
   */
  async models(providerId: string, signal: AbortSignal): Promise<ModelList> {
    const p = this.d.providers.get(providerId);
    const client = this.d.providers.client(p.id);
    try {
      const listed = await client.listModels(signal);
      let loaded = new Set<string>();
      if (client instanceof OllamaProvider) {
        try {
          loaded = new Set((await client.loadedModels(signal)).map(m => m.name));
        } catch {
          // the list alone is enough to choose from
        }
      }
      return {
        ok: true,
        models: listed.map(m => ({ name: m.name, sizeBytes: m.sizeBytes, parameterSize: m.parameterSize, quantization: m.quantization, loaded: loaded.has(m.name) })),
      };
    } catch (e) {
      return { ok: false, reason: errorMessage(e), suggestions: KNOWN_MODELS.map(m => ({ name: m.name, sizeBytes: m.sizeBytes, detail: `${m.title}: ${m.detail}`, loaded: false })) };
    }
  }

  /** Checks a provider now; the monitor (and so the queue, the trees and agents' states) follows the result. */
  async checkProvider(providerId: string): Promise<Health> {
    this.d.providers.get(providerId);
    if (this.d.monitor) await this.d.monitor.refresh(providerId);
    else this.d.providers.setHealth(providerId, await this.d.providers.client(providerId).health(AbortSignal.timeout(15_000)));
    return this.d.providers.lastHealth(providerId) ?? { ok: false, reason: 'not checked' };
  }

  /**
   * Agents in `error` whose provider is back and lists their model are ready again: the reason they were
   * stopped (model missing, server refused) no longer holds. Called when the monitor learns about a provider.
   */
  reconcileAgents(providerId: string): void {
    const view = this.d.monitor?.views().get(providerId);
    if (!view?.online || !view.models) return;
    for (const a of this.d.agents.list()) {
      if (a.providerId !== providerId || a.status !== 'error' || ![...view.models].some(m => sameModel(m, a.model))) continue;
      try {
        this.d.agents.setStatus(a.id, 'ready', null);
      } catch {
        // changed meanwhile (another window): the next check looks again
      }
    }
  }

  /** A run's conversation as its transcript file holds it, with the run and its task; undefined when unreadable. */
  transcript(runId: string): RunTranscript | undefined {
    const run = this.d.executor.get(runId);
    if (!run) return undefined;
    const details = this.taskDetails(run.taskId).runs.find(r => r.id === runId);
    const data = this.d.executor.readTranscriptFile(runId);
    if (!details || !data) return undefined;
    return { run: details, taskTitle: this.d.tasks.get(run.taskId).title, ...data };
  }

  /** A person's approval of a task in review: it completes. */
  approve(taskId: string, summary = 'Approved.', reviewerName = 'a person'): Task {
    return this.verdict(taskId, 'approve', summary, [], reviewerName);
  }

  /**
   * A person sends a task in review back to its author with findings (or one comment), or fails it once
   * the rounds are used up.
   */
  requestChanges(taskId: string, findings: Finding[] | string, summary = '', reviewerName = 'a person'): Task {
    const list: Finding[] = typeof findings === 'string' ? (findings.trim() ? parseFindingLines(findings) : []) : findings;
    return this.verdict(taskId, 'request_changes', summary, list, reviewerName);
  }

  private verdict(taskId: string, verdict: 'approve' | 'request_changes', summary: string, findings: Finding[], reviewerName: string): Task {
    return this.d.store.mutate(tx =>
      applyVerdictTx(tx, {
        taskId, reviewTaskId: null, reviewerId: null, reviewerName, verdict, summary, findings: findings.map(f => Finding.parse(f)), now: this.d.clock.now(),
        maxRounds: this.d.review().maxRounds,
      }).task,
    );
  }

  /**
   * After a reviewer agent approved a task: apply its proposed changes to files outside the agent's folder
   * (the setting ai2ai.changes.applyOnApproval). A file changed since the agent read it stays a conflict.
   */
  applyOnApproval(reviewId: string): void {
    const r = this.review(reviewId);
    if (!r || r.verdict !== 'approve' || !r.reviewerId || !this.d.changeSets) return;
    try {
      this.d.changeSets.accept(r.taskId);
    } catch {
      // left pending: the person applies or rejects them from the task
    }
  }

  /** One verdict, by its id (as change records name it). */
  review(reviewId: string): Review | undefined {
    return reviewById(this.d.store.read, reviewId);
  }

  reviews(taskId: string): Review[] {
    return reviewsOf(this.d.store.read, taskId);
  }

  /** For a task in review, or one in a review cycle: round, reviewer, and why nobody reviews it yet. */
  reviewState(task: Task, all?: readonly Task[]): ReviewState | undefined {
    if (!task.reviewRound) return undefined;
    const maxRounds = this.d.review().maxRounds;
    const open = (all ?? this.d.tasks.list({ reviewOf: task.id })).filter(t => t.reviewOf === task.id && (t.status === 'pending' || t.status === 'in_progress' || t.status === 'blocked'));
    const reviewer = open.map(t => (t.assigneeId ? this.d.agents.find(t.assigneeId)?.name : undefined)).find(n => !!n);
    const hint = task.status === 'in_review' && !open.length ? NO_REVIEWER_HINT : task.status === 'in_review' && !reviewer ? this.queueInfo(open[0].id) : undefined;
    return { round: task.reviewRound, maxRounds, reviewer, hint };
  }

  taskDetails(taskId: string): TaskDetails {
    const task = this.d.tasks.get(taskId);
    const agents = new Map(this.d.agents.list().map(a => [a.id, a]));
    const providers = new Map(this.d.providers.list().map(p => [p.id, p.name]));
    const runs = this.d.executor.list(taskId);
    // A deleted agent is still named by the runs it made.
    const runNames = new Map(runs.filter(r => r.agentName).map(r => [r.agentId, r.agentName!]));
    const name = (id: string | null) => (id ? (agents.get(id)?.name ?? runNames.get(id) ?? 'a deleted agent') : 'the user');
    const assignee = task.assigneeId ? agents.get(task.assigneeId) : undefined;
    return {
      task,
      assignee: assignee ? { id: assignee.id, name: assignee.name, model: assignee.model, status: assignee.status } : null,
      dependsOn: task.dependsOn.map(id => this.d.tasks.find(id)).filter((t): t is Task => !!t).map(t => ({ id: t.id, title: t.title, status: t.status })),
      runs: runs.map(r => ({
        ...r, agentName: name(r.agentId), agentDeleted: !agents.has(r.agentId), providerName: r.providerId ? (providers.get(r.providerId) ?? null) : null,
      })),
      updates: this.d.activity.updates(taskId).map(u => ({ ...u, agentName: u.agentId ? name(u.agentId) : null })),
      messages: this.d.activity.messagesForTask(taskId).map(m => ({ ...m, fromName: name(m.fromAgent), toName: m.toAgent ? name(m.toAgent) : 'everyone' })),
      queue: this.d.scheduler.queueInfo(taskId),
      running: this.d.runs.isRunning(taskId),
      reviews: this.reviews(taskId),
      review: this.reviewState(task),
      reviewTasks: this.d.tasks.list({ reviewOf: taskId }).sort((a, b) => a.createdAt - b.createdAt).map(t => ({ id: t.id, title: t.title, status: t.status, assigneeId: t.assigneeId })),
      changes: (this.d.changeSets?.list(taskId) ?? []).map(c => ({ path: c.path, status: c.status, conflict: c.conflict, deletes: c.after === null })),
    };
  }
}

/** `gemma3` and `gemma3:latest` are the same model to Ollama. */
function sameModel(a: string, b: string): boolean {
  const n = (s: string) => (s.includes(':') ? s : `${s}:latest`).toLowerCase();
  return n(a) === n(b);
}
