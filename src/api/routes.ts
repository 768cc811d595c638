/**
 * Every REST operation under /v1. Each handler calls the core (the application layer for anything with a
 * rule: run, cancel, retry, assign, rank, details; the services for plain reads and edits) and decides
 * nothing itself. Lists are paged with `limit` and an opaque `cursor`.
 */
import * as z from 'zod';
import type { Core } from '../core';
import { CreateAgentInput, EditAgentInput } from '../core/agents/agentService';
import { Agent, Id, Message, Provider, Run, Task, TaskStatus, TaskUpdate } from '../core/model/schemas';
import { ProviderInput } from '../core/providers/providerService';
import { CreateTaskInput, EditTaskInput } from '../core/tasks/taskService';
import { Decision, FileChange, requireChangeSets } from './changeSets';
import { ApiError } from './errors';
import { ApproveInput, RequestChangesInput, requireReviews } from './reviews';
import { route, type Route } from './router';

// ------------------------------------------------------------------ shared schemas

export const ErrorSchema = z.object({ code: z.string(), message: z.string() }).meta({ id: 'Error' });

const IdParam = z.object({ id: Id }).strict();
const Limit = z.coerce.number().int().min(1).max(500).default(100);
const Cursor = z.string().regex(/^\d+$/, 'Use the nextCursor of the previous page.').optional();
const Millis = z.coerce.number().int().min(0);
const statusList = new RegExp(`^(${TaskStatus.options.join('|')})(,(${TaskStatus.options.join('|')}))*$`);

const page = <T extends z.ZodType>(item: T, name: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable().describe('Pass as cursor for the next page; null on the last.') }).meta({ id: name });

function paginate<T>(items: readonly T[], q: { limit: number; cursor?: string }): { items: T[]; nextCursor: string | null } {
  const start = q.cursor ? Number(q.cursor) : 0;
  const slice = items.slice(start, start + q.limit);
  return { items: slice, nextCursor: start + q.limit < items.length ? String(start + q.limit) : null };
}

const TaskOut = Task.meta({ id: 'Task' });
const AgentOut = Agent.meta({ id: 'Agent' });
const RunOut = Run.meta({ id: 'Run' });
const UpdateOut = TaskUpdate.meta({ id: 'TaskUpdate' });
const MessageOut = Message.meta({ id: 'Message' });
const Health = z.object({ ok: z.boolean(), reason: z.string().optional(), at: z.number().int().optional() }).passthrough();
const ProviderOut = Provider.extend({ health: Health.nullable() }).meta({ id: 'Provider' });
const Ranked = z.object({ agentId: Id, name: z.string(), score: z.number(), reasons: z.array(z.string()), enabled: z.boolean(), status: z.string() }).meta({ id: 'RankedAgent' });
const TaskDetailsOut = z
  .object({
    task: TaskOut,
    assignee: z.object({ id: Id, name: z.string(), model: z.string(), status: z.string() }).nullable(),
    dependsOn: z.array(z.object({ id: Id, title: z.string(), status: TaskStatus })),
    runs: z.array(Run.extend({ agentName: z.string(), providerName: z.string().nullable() })),
    updates: z.array(UpdateOut),
    messages: z.array(Message.extend({ fromName: z.string(), toName: z.string() })),
    queue: z.string().optional().describe('Why it waits, when it is queued.'),
    running: z.boolean(),
    changes: z.array(z.object({ path: z.string(), status: z.string(), conflict: z.string().nullable(), deletes: z.boolean() })),
  })
  .meta({ id: 'TaskDetails' });
const RunPage = page(RunOut, 'RunPage');
const RunStarted = z.object({ task: TaskOut, queue: z.string().nullable() }).meta({ id: 'RunStarted' });

// Bodies: the services' own input schemas, strict (an unknown field is an error, not ignored).
const CreateTaskBody = CreateTaskInput.strict().meta({ id: 'CreateTask' });
const EditTaskBody = EditTaskInput.strict().meta({ id: 'EditTask' });
const CreateAgentBody = CreateAgentInput.strict().meta({ id: 'CreateAgent' });
const EditAgentBody = EditAgentInput.strict().meta({ id: 'EditAgent' });
const ProviderBody = ProviderInput.strict().meta({ id: 'ProviderInput' });
const ProviderPatch = ProviderInput.partial().strict().meta({ id: 'ProviderPatch' });
const CancelBody = z.object({ reason: z.string().trim().min(1).max(2000).optional() }).strict();
const AssignBody = z.object({ agentId: Id.nullable().describe('null to unassign'), reason: z.string().max(2000).optional() }).strict();
const MessageBody = z.object({ toAgent: Id.nullable().describe('null: every agent'), taskId: Id.nullable().optional(), body: Message.shape.body }).strict();

const TaskQuery = z
  .object({
    status: z.string().regex(statusList, `A comma-separated list of: ${TaskStatus.options.join(', ')}.`).optional(),
    assignee: z.string().min(1).max(64).optional().describe('An agent id, or "none" for unassigned tasks.'),
    updatedSince: Millis.optional().describe('Only tasks changed at or after this time (ms since 1970).'),
    limit: Limit,
    cursor: Cursor,
  })
  .strict();
const PageQuery = z.object({ limit: Limit, cursor: Cursor }).strict();
const SinceQuery = z.object({ since: Millis.optional().describe('Only items created at or after this time (ms since 1970).'), limit: Limit, cursor: Cursor }).strict();
const RunQuery = z.object({ taskId: Id.optional(), agentId: Id.optional(), limit: Limit, cursor: Cursor }).strict();
const MessageQuery = z.object({ taskId: Id.optional(), agentId: Id.optional().describe("An agent's inbox: addressed to it, or to everyone."), limit: Limit, cursor: Cursor }).strict();
const PathQuery = z.object({ path: z.string().min(1).max(1000) }).strict();

function withHealth(core: Core, p: Provider) {
  return { ...p, health: core.providers.lastHealth(p.id) ?? null };
}

/** Starts a run through the queue and answers at once: refusals (no agent, disabled, blocked) come back as errors. */
async function startRun(run: Promise<unknown>, onLater: (e: unknown) => void): Promise<void> {
  let failed: unknown;
  let settled = false;
  run.then(
    () => (settled = true),
    e => {
      settled = true;
      failed = e ?? new Error('run failed');
    },
  );
  // Refusals happen before the run is queued, so they have settled by the next turn of the event loop.
  await new Promise(r => setImmediate(r));
  if (failed) throw failed;
  if (!settled) run.catch(onLater);
}

// ------------------------------------------------------------------ the table

export const ROUTES: Route[] = [
  // the team's figures: the very query the dashboard draws from, so both always agree
  route({
    method: 'GET', path: '/v1/stats', tag: 'stats', summary: "The team's figures: per agent and skill, per provider and model (slots, rates, prompt cache), per hour, review rounds, run timeline",
    response: z.object({}).passthrough().meta({ id: 'Stats' }),
    handler: ({ core }) => core.stats.stats(),
  }),
  // providers
  route({
    method: 'GET', path: '/v1/providers', tag: 'providers', summary: 'List model providers with their last health check',
    query: PageQuery, response: page(ProviderOut, 'ProviderPage'),
    handler: ({ core, query }) => paginate(core.providers.list().map(p => withHealth(core, p)), query),
  }),
  route({
    method: 'POST', path: '/v1/providers', tag: 'providers', summary: 'Add a model provider', status: 201,
    body: ProviderBody, response: ProviderOut,
    handler: ({ core, body }) => withHealth(core, core.providers.create(body)),
  }),
  route({
    method: 'GET', path: '/v1/providers/{id}', tag: 'providers', summary: 'Read a provider',
    params: IdParam, response: ProviderOut,
    handler: ({ core, params }) => withHealth(core, core.providers.get(params.id)),
  }),
  route({
    method: 'PATCH', path: '/v1/providers/{id}', tag: 'providers', summary: 'Edit a provider',
    params: IdParam, body: ProviderPatch, response: ProviderOut,
    handler: ({ core, params, body }) => withHealth(core, core.providers.edit(params.id, body)),
  }),
  route({
    method: 'DELETE', path: '/v1/providers/{id}', tag: 'providers', summary: 'Remove a provider no agent uses',
    params: IdParam, response: z.object({ deleted: Id }),
    handler: ({ core, params }) => (core.providers.delete(params.id), { deleted: params.id }),
  }),
  route({
    method: 'POST', path: '/v1/providers/{id}/health', tag: 'providers', summary: 'Check a provider now (at most 10 s)',
    params: IdParam, response: Health,
    handler: async ({ core, params }) => {
      core.providers.get(params.id);
      await core.monitor.refresh(params.id).catch(() => undefined);
      return core.providers.lastHealth(params.id) ?? { ok: false, reason: 'not checked' };
    },
  }),

  // agents
  route({
    method: 'GET', path: '/v1/agents', tag: 'agents', summary: 'List agents',
    query: PageQuery, response: page(AgentOut, 'AgentPage'),
    handler: ({ core, query }) => paginate(core.agents.list(), query),
  }),
  route({
    method: 'POST', path: '/v1/agents', tag: 'agents', summary: 'Create an agent (and its folder)', status: 201,
    body: CreateAgentBody, response: AgentOut,
    handler: ({ core, body }) => core.agents.create(body),
  }),
  route({
    method: 'GET', path: '/v1/agents/{id}', tag: 'agents', summary: 'Read an agent',
    params: IdParam, response: AgentOut,
    handler: ({ core, params }) => core.agents.get(params.id),
  }),
  route({
    method: 'PATCH', path: '/v1/agents/{id}', tag: 'agents', summary: 'Edit an agent',
    params: IdParam, body: EditAgentBody, response: AgentOut,
    handler: ({ core, params, body }) => core.agents.edit(params.id, body),
  }),
  route({
    method: 'DELETE', path: '/v1/agents/{id}', tag: 'agents', summary: 'Delete an agent (its folder stays; its tasks become unassigned)',
    params: IdParam, response: z.object({ deleted: Id }),
    handler: ({ core, params }) => (core.agents.delete(params.id), { deleted: params.id }),
  }),
  route({
    method: 'POST', path: '/v1/agents/{id}/enable', tag: 'agents', summary: 'Enable an agent',
    params: IdParam, response: AgentOut,
    handler: ({ core, params }) => core.agents.setEnabled(params.id, true),
  }),
  route({
    method: 'POST', path: '/v1/agents/{id}/disable', tag: 'agents', summary: 'Disable an agent',
    params: IdParam, response: AgentOut,
    handler: ({ core, params }) => core.agents.setEnabled(params.id, false),
  }),
  route({
    method: 'POST', path: '/v1/agents/{id}/start', tag: 'agents', summary: 'Start an agent on its most urgent pending task (answers when it is queued)', status: 202,
    params: IdParam, response: RunStarted,
    handler: async ({ core, params }) => {
      const next = core.app.nextTaskFor(params.id);
      await startRun(core.app.startAgent(params.id), () => undefined);
      const task = next ? core.tasks.get(next.id) : undefined;
      if (!task) throw new ApiError(409, 'conflict', 'The agent has no pending task.');
      return { task, queue: core.app.queueInfo(task.id) ?? null };
    },
  }),

  // tasks
  route({
    method: 'GET', path: '/v1/tasks', tag: 'tasks', summary: 'List tasks (by priority, then age), filtered by status, assignee and time of last change',
    query: TaskQuery, response: page(TaskOut, 'TaskPage'),
    handler: ({ core, query }) => {
      const status = query.status ? (query.status.split(',') as TaskStatus[]) : undefined;
      let tasks = core.tasks.list({ status, assigneeId: query.assignee && query.assignee !== 'none' ? query.assignee : undefined });
      if (query.assignee === 'none') tasks = tasks.filter(t => t.assigneeId === null);
      if (query.updatedSince !== undefined) tasks = tasks.filter(t => t.updatedAt >= query.updatedSince!);
      return paginate(tasks, query);
    },
  }),
  route({
    method: 'POST', path: '/v1/tasks', tag: 'tasks', summary: 'Create a task', status: 201,
    body: CreateTaskBody, response: TaskOut,
    handler: ({ core, body }) => core.tasks.create(body),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}', tag: 'tasks', summary: 'Read a task',
    params: IdParam, response: TaskOut,
    handler: ({ core, params }) => core.tasks.get(params.id),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/details', tag: 'tasks', summary: 'A task with its assignee, dependencies, runs, updates, messages and queue state',
    params: IdParam, response: TaskDetailsOut,
    handler: ({ core, params }) => core.app.taskDetails(params.id),
  }),
  route({
    method: 'PATCH', path: '/v1/tasks/{id}', tag: 'tasks', summary: 'Edit a task (only title and priority while it runs)',
    params: IdParam, body: EditTaskBody, response: TaskOut,
    handler: ({ core, params, body }) => core.tasks.edit(params.id, body),
  }),
  route({
    method: 'DELETE', path: '/v1/tasks/{id}', tag: 'tasks', summary: 'Delete a task that is not running',
    params: IdParam, response: z.object({ deleted: Id }),
    handler: ({ core, params }) => (core.tasks.delete(params.id), { deleted: params.id }),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/cancel', tag: 'tasks', summary: 'Cancel a task; its run stops wherever it runs',
    params: IdParam, body: CancelBody.optional(), response: TaskOut,
    handler: ({ core, params, body }) => core.app.cancel(params.id, body?.reason),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/retry', tag: 'tasks', summary: 'Put a failed or cancelled task back on the board',
    params: IdParam, response: TaskOut,
    handler: ({ core, params }) => core.app.retry(params.id),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/assign', tag: 'tasks', summary: 'Assign a task to an agent (or unassign it)',
    params: IdParam, body: AssignBody, response: TaskOut,
    handler: ({ core, params, body }) => core.app.assign(params.id, body.agentId, body.reason),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/candidates', tag: 'tasks', summary: "Agents ranked for a task by the scheduler's score, with its reasons",
    params: IdParam, response: z.array(Ranked),
    handler: ({ core, params }) =>
      core.app.rankAgents(params.id).map(s => ({ agentId: s.agent.id, name: s.agent.name, score: s.score, reasons: s.reasons, enabled: s.agent.enabled, status: s.agent.status })),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/run', tag: 'tasks', summary: "Run a task with its agent through the queue (answers when it is queued; follow it on /v1/events)", status: 202,
    params: IdParam, response: RunStarted,
    handler: async ({ core, params }) => {
      await startRun(core.app.runTask(params.id), () => undefined);
      return { task: core.tasks.get(params.id), queue: core.app.queueInfo(params.id) ?? null };
    },
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/approve', tag: 'reviews', summary: 'Approve a task in review',
    params: IdParam, body: ApproveInput, response: TaskOut,
    handler: ({ reviews, params, body }) => requireReviews(reviews).approve(params.id, body.summary),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/request-changes', tag: 'reviews', summary: 'Request changes on a task in review, with findings',
    params: IdParam, body: RequestChangesInput, response: TaskOut,
    handler: ({ reviews, params, body }) => requireReviews(reviews).requestChanges(params.id, body.findings, body.summary),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/reviews', tag: 'reviews', summary: "A task's reviews: verdicts and findings",
    params: IdParam, response: z.array(z.record(z.string(), z.unknown())),
    handler: ({ core, reviews, params }) => {
      core.tasks.get(params.id);
      const r = requireReviews(reviews);
      return r.reviews ? r.reviews(params.id) : [];
    },
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/updates', tag: 'updates', summary: "A task's history, oldest first",
    params: IdParam, query: SinceQuery, response: page(UpdateOut, 'TaskUpdatePage'),
    handler: ({ core, params, query }) => {
      core.tasks.get(params.id);
      const all = core.activity.updates(params.id, 100_000);
      return paginate(query.since === undefined ? all : all.filter(u => u.createdAt >= query.since!), query);
    },
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/runs', tag: 'runs', summary: "A task's runs, oldest first",
    params: IdParam, query: PageQuery, response: RunPage,
    handler: ({ core, params, query }) => (core.tasks.get(params.id), paginate(core.executor.list(params.id), query)),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/changes', tag: 'changes', summary: "The task's change set: files outside the agent's folder it wants to change",
    params: IdParam, response: z.array(FileChange.meta({ id: 'FileChange' })),
    handler: ({ core, changeSets, params }) => (core.tasks.get(params.id), requireChangeSets(changeSets).list(params.id)),
  }),
  route({
    method: 'GET', path: '/v1/tasks/{id}/changes/diff', tag: 'changes', summary: 'A unified diff of one proposed file change',
    params: IdParam, query: PathQuery, response: z.object({ path: z.string(), diff: z.string() }),
    handler: async ({ changeSets, params, query }) => ({ path: query.path, diff: await requireChangeSets(changeSets).diff(params.id, query.path) }),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/changes/accept', tag: 'changes', summary: 'Apply proposed changes (all, or the paths named); a file changed meanwhile is a conflict, never overwritten',
    params: IdParam, body: Decision.optional(), response: z.array(FileChange),
    handler: ({ changeSets, params, body }) => requireChangeSets(changeSets).accept(params.id, body?.paths),
  }),
  route({
    method: 'POST', path: '/v1/tasks/{id}/changes/reject', tag: 'changes', summary: 'Reject proposed changes (all, or the paths named)',
    params: IdParam, body: Decision.optional(), response: z.array(FileChange),
    handler: ({ changeSets, params, body }) => requireChangeSets(changeSets).reject(params.id, body?.paths),
  }),

  // runs
  route({
    method: 'GET', path: '/v1/runs', tag: 'runs', summary: 'Runs, oldest first, by task or agent',
    query: RunQuery, response: RunPage,
    handler: ({ core, query }) => paginate(core.executor.list(query.taskId).filter(r => !query.agentId || r.agentId === query.agentId), query),
  }),
  route({
    method: 'GET', path: '/v1/runs/{id}', tag: 'runs', summary: 'Read a run',
    params: IdParam, response: RunOut,
    handler: ({ core, params }) => {
      const run = core.executor.get(params.id);
      if (!run) throw new ApiError(404, 'not_found', 'There is no such run.');
      return run;
    },
  }),

  // messages
  route({
    method: 'GET', path: '/v1/messages', tag: 'messages', summary: "Messages of a task, or an agent's inbox",
    query: MessageQuery, response: page(MessageOut, 'MessagePage'),
    handler: ({ core, query }) => {
      if (!query.taskId && !query.agentId) throw new ApiError(400, 'validation', 'Name a taskId or an agentId.');
      let items = query.agentId ? core.activity.inbox(query.agentId) : core.activity.messagesForTask(query.taskId!);
      if (query.agentId && query.taskId) items = items.filter(m => m.taskId === query.taskId);
      return paginate(items, query);
    },
  }),
  route({
    method: 'POST', path: '/v1/messages', tag: 'messages', summary: 'Send a message to an agent (or every agent) as the user; it reads it on its next run', status: 201,
    body: MessageBody, response: MessageOut,
    handler: ({ core, body }) => core.activity.send({ fromAgent: null, toAgent: body.toAgent, taskId: body.taskId ?? null, body: body.body }),
  }),
];
