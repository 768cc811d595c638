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
import type { Agent, Message, Provider, Run, Task, TaskUpdate } from '../model/schemas';
import { OllamaProvider } from '../providers/ollama';
import type { PullProgress } from '../providers/types';
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
  /** The agent's name, or "a deleted agent". */
  agentName: string;
  providerName: string | null;
}

/** Everything a task's report, a webview or the API renders, typed. */
export interface TaskDetails {
  task: Task;
  assignee: Pick<Agent, 'id' | 'name' | 'model' | 'status'> | null;
  dependsOn: Array<Pick<Task, 'id' | 'title' | 'status'>>;
  runs: RunDetails[];
  updates: TaskUpdate[];
  messages: Array<Message & { fromName: string; toName: string }>;
  /** Why it waits, when it is queued. */
  queue?: string;
  running: boolean;
  /** Its change set: files outside the agent's folder it wants to change, and what became of each. */
  changes: Array<{ path: string; status: FileChangeStatus; conflict: string | null; deletes: boolean }>;
}

export class Application {
  constructor(
    private readonly d: {
      agents: AgentService;
      tasks: TaskService;
      activity: ActivityService;
      providers: ProviderService;
      executor: RunExecutor;
      runs: RunManager;
      scheduler: Scheduler;
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

  async pull(providerId: string, model: string, onProgress: (p: PullProgress) => void, signal: AbortSignal): Promise<void> {
    const p: Provider = this.d.providers.get(providerId);
    const client = this.d.providers.client(p.id);
    if (!(client instanceof OllamaProvider)) throw new AppError('validation', `${p.name} is not an Ollama server; pull models with its own tools.`);
    await client.pull(model, onProgress, signal);
  }

  taskDetails(taskId: string): TaskDetails {
    const task = this.d.tasks.get(taskId);
    const agents = new Map(this.d.agents.list().map(a => [a.id, a]));
    const providers = new Map(this.d.providers.list().map(p => [p.id, p.name]));
    const name = (id: string | null) => (id ? (agents.get(id)?.name ?? 'a deleted agent') : 'the user');
    const assignee = task.assigneeId ? agents.get(task.assigneeId) : undefined;
    return {
      task,
      assignee: assignee ? { id: assignee.id, name: assignee.name, model: assignee.model, status: assignee.status } : null,
      dependsOn: task.dependsOn.map(id => this.d.tasks.find(id)).filter((t): t is Task => !!t).map(t => ({ id: t.id, title: t.title, status: t.status })),
      runs: this.d.executor.list(taskId).map(r => ({ ...r, agentName: name(r.agentId), providerName: r.providerId ? (providers.get(r.providerId) ?? null) : null })),
      updates: this.d.activity.updates(taskId),
      messages: this.d.activity.messagesForTask(taskId).map(m => ({ ...m, fromName: name(m.fromAgent), toName: m.toAgent ? name(m.toAgent) : 'everyone' })),
      queue: this.d.scheduler.queueInfo(taskId),
      running: this.d.runs.isRunning(taskId),
      changes: (this.d.changeSets?.list(taskId) ?? []).map(c => ({ path: c.path, status: c.status, conflict: c.conflict, deletes: c.after === null })),
    };
  }
}
