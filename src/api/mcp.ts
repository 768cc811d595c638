/**
 * MCP (Model Context Protocol) on the API server, with the official SDK over Streamable HTTP: another agent
 * (Copilot agent mode, Claude Code, Cline) lists the team, puts a task on the board with files attached,
 * waits for it (bounded) and reads its result, and approves or requests changes. Stateless: each POST gets
 * a fresh protocol server over the same core, so nothing is kept between requests and a restart loses no
 * session. Same token, Host and Origin checks as the REST API (done by the caller).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import * as z from 'zod';
import type { Core } from '../core';
import { touchesTask } from '../core/changes';
import { errorMessage } from '../core/errors';
import { Task, TaskStatus } from '../core/model/schemas';
import type { Logger } from '../core/ports';
import { toHttpError } from './errors';
import { requireReviews, type ReviewActions } from './reviews';

/** Statuses after which waiting ends: the task is done, or needs someone (a reviewer). */
const SETTLED = new Set<TaskStatus>(['completed', 'failed', 'cancelled', 'in_review']);
const MAX_WAIT_S = 300;

type ToolResult = { content: Array<{ type: 'text'; text: string }>; isError?: boolean };

const ok = (value: unknown): ToolResult => ({ content: [{ type: 'text', text: JSON.stringify(value, null, 2) }] });
const failed = (e: unknown): ToolResult => {
  const { body } = toHttpError(e);
  return { content: [{ type: 'text', text: `${body.code}: ${body.code === 'internal' ? errorMessage(e) : body.message}` }], isError: true };
};
async function guarded(fn: () => unknown): Promise<ToolResult> {
  try {
    return ok(await fn());
  } catch (e) {
    return failed(e);
  }
}

/** The protocol server with AI2AI's tools. */
export function createMcpServer(core: Core, reviews: ReviewActions | undefined, version: string, log: Logger): McpServer {
  const server = new McpServer({ name: 'ai2ai', version }, { instructions: 'AI2AI is a team of local AI agents. Put work on its board with create_task, then wait_for_task and read the result with get_task.' });
  const agentByRef = (ref: string) => core.agents.find(ref) ?? core.agents.findByName(ref) ?? core.agents.get(ref);
  const summary = (t: Task) => ({
    id: t.id, title: t.title, status: t.status, assigneeId: t.assigneeId, result: t.result, failureReason: t.failureReason,
    attachments: t.attachments, updatedAt: t.updatedAt, queue: core.app.queueInfo(t.id) ?? null,
  });

  server.registerTool(
    'list_agents',
    { title: 'List agents', description: 'The agents of the AI2AI team: name, role, skills, model, status.', inputSchema: {}, annotations: { readOnlyHint: true } },
    () => guarded(() => core.agents.list().map(a => ({ id: a.id, name: a.name, role: a.role, skills: a.skills, model: a.model, status: a.status, enabled: a.enabled, pendingTasks: core.tasks.list({ status: ['pending'], assigneeId: a.id }).length }))),
  );

  server.registerTool(
    'create_task',
    {
      title: 'Create a task',
      description: 'Put a task on the AI2AI board, optionally for a named agent, with workspace files attached (the agent reads them; its changes to them wait for review). With an agent, the task is queued to run at once unless run is false.',
      inputSchema: {
        title: Task.shape.title,
        description: z.string().max(20_000).optional().describe('What done looks like, constraints'),
        requiredSkills: z.array(z.string().max(32)).max(32).optional(),
        priority: z.number().int().min(0).max(3).optional().describe('0 low, 1 normal, 2 high, 3 urgent'),
        attachments: z.array(z.string().min(1).max(1000)).max(50).optional().describe('Paths of files in the workspace, relative to its folder'),
        agent: z.string().max(64).optional().describe('Name or id of the agent to do it'),
        run: z.boolean().optional().describe('Queue it at once (default true when an agent is named)'),
      },
    },
    args =>
      guarded(async () => {
        const agent = args.agent ? agentByRef(args.agent) : undefined;
        const task = core.tasks.create({
          title: args.title, description: args.description, requiredSkills: args.requiredSkills, priority: args.priority,
          attachments: args.attachments, assigneeId: agent?.id ?? null,
        });
        if (agent && args.run !== false) {
          core.app.runTask(task.id).catch(e => log.warn(`[mcp] run of "${task.title}" ended: ${errorMessage(e)}`));
          await new Promise(r => setImmediate(r));
        }
        return summary(core.tasks.get(task.id));
      }),
  );

  server.registerTool(
    'get_task',
    { title: 'Read a task', description: "A task's status, result, assignee, runs and latest updates.", inputSchema: { taskId: z.string().min(1).max(64) }, annotations: { readOnlyHint: true } },
    ({ taskId }) =>
      guarded(() => {
        const d = core.app.taskDetails(taskId);
        return {
          ...summary(d.task), description: d.task.description, assignee: d.assignee?.name ?? null,
          runs: d.runs.map(r => ({ id: r.id, agent: r.agentName, outcome: r.outcome, reason: r.reason, steps: r.steps })),
          updates: d.updates.slice(-30).map(u => ({ kind: u.kind, body: u.body, at: u.createdAt })),
        };
      }),
  );

  server.registerTool(
    'list_tasks',
    {
      title: 'List tasks',
      description: 'Tasks on the board by priority then age, optionally by status.',
      inputSchema: { status: z.array(TaskStatus).optional(), limit: z.number().int().min(1).max(200).optional() },
      annotations: { readOnlyHint: true },
    },
    ({ status, limit }) => guarded(() => core.tasks.list({ status }).slice(0, limit ?? 50).map(summary)),
  );

  server.registerTool(
    'wait_for_task',
    {
      title: 'Wait for a task',
      description: `Waits until the task is completed, failed, cancelled or in review, or the time runs out (at most ${MAX_WAIT_S} s); returns it either way.`,
      inputSchema: { taskId: z.string().min(1).max(64), timeoutSeconds: z.number().min(1).max(MAX_WAIT_S).optional().describe('Default 60') },
      annotations: { readOnlyHint: true },
    },
    ({ taskId, timeoutSeconds }, extra) =>
      guarded(async () => {
        core.tasks.get(taskId);
        await new Promise<void>(resolve => {
          const done = () => {
            sub.dispose();
            clearTimeout(timer);
            extra.signal.removeEventListener('abort', done);
            resolve();
          };
          const sub = core.changes.event(c => {
            if (!touchesTask(c, taskId)) return;
            const t = core.tasks.find(taskId);
            if (!t || SETTLED.has(t.status)) done();
          });
          const timer = setTimeout(done, (timeoutSeconds ?? 60) * 1000);
          extra.signal.addEventListener('abort', done);
          if (SETTLED.has(core.tasks.get(taskId).status)) done();
        });
        const t = core.tasks.get(taskId);
        return { ...summary(t), settled: SETTLED.has(t.status) };
      }),
  );

  server.registerTool(
    'approve_task',
    { title: 'Approve a task', description: 'Approve a task in review, with a summary of why.', inputSchema: { taskId: z.string().min(1).max(64), summary: z.string().min(1).max(20_000) } },
    ({ taskId, summary: text }) => guarded(async () => summary(await requireReviews(reviews).approve(taskId, text))),
  );

  server.registerTool(
    'request_changes',
    {
      title: 'Request changes',
      description: 'Send a task in review back to its agent with findings.',
      inputSchema: {
        taskId: z.string().min(1).max(64),
        findings: z.array(z.object({ file: z.string().max(1000).optional(), line: z.number().int().min(1).optional(), message: z.string().min(1).max(5000) })).min(1).max(100),
      },
    },
    ({ taskId, findings }) => guarded(async () => summary(await requireReviews(reviews).requestChanges(taskId, findings))),
  );

  return server;
}

/** Handles one MCP request (already authorized, body already read and parsed). */
export async function handleMcp(req: IncomingMessage, res: ServerResponse, body: unknown, make: () => McpServer): Promise<void> {
  const server = make();
  // Stateless, JSON answers: one request, one response; nothing to resume.
  const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
  res.on('close', () => {
    void transport.close();
    void server.close();
  });
  await server.connect(transport);
  await transport.handleRequest(req, res, body);
}
