/**
 * Row <-> model mapping. Every row read from the database is parsed with the zod schema, so a row
 * edited by hand or written by a newer version fails loudly here instead of deep in the UI.
 */
import * as z from 'zod';
import { Agent, Message, Provider, Review, Run, Task, TaskUpdate } from '../model/schemas';
import { AppError } from '../errors';
import type { Row, SqlValue } from './types';

function json(v: SqlValue): unknown {
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    return undefined;
  }
}

function parse<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    throw new AppError('storage_corrupt', `A stored ${what} is not valid (${r.error.issues[0]?.path.join('.')}: ${r.error.issues[0]?.message}).`, {
      value,
    });
  }
  return r.data;
}

const str = (v: SqlValue) => (v === null ? null : String(v));
const num = (v: SqlValue) => (v === null ? null : Number(v));

export function providerFromRow(r: Row): Provider {
  return parse(Provider, {
    id: r.id,
    kind: r.kind,
    name: r.name,
    baseUrl: r.base_url,
    maxConcurrency: num(r.max_concurrency),
    createdAt: num(r.created_at),
  }, 'provider');
}

export function agentFromRow(r: Row): Agent {
  return parse(Agent, {
    id: r.id,
    name: r.name,
    role: r.role,
    skills: json(r.skills),
    providerId: r.provider_id,
    model: r.model,
    settings: json(r.settings),
    enabled: r.enabled === 1,
    status: r.status,
    statusReason: str(r.status_reason),
    workspace: r.workspace,
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
  }, 'agent');
}

export function agentToParams(a: Agent): SqlValue[] {
  return [
    a.id, a.name, a.role, JSON.stringify(a.skills), a.providerId, a.model, JSON.stringify(a.settings),
    a.enabled ? 1 : 0, a.status, a.statusReason, a.workspace, a.createdAt, a.updatedAt,
  ];
}
export const AGENT_COLUMNS =
  'id, name, role, skills, provider_id, model, settings, enabled, status, status_reason, workspace, created_at, updated_at';

export function taskFromRow(r: Row, dependsOn: string[]): Task {
  return parse(Task, {
    id: r.id,
    title: r.title,
    description: r.description,
    requiredSkills: json(r.required_skills),
    priority: num(r.priority),
    status: r.status,
    assigneeId: str(r.assignee_id),
    parentId: str(r.parent_id),
    reviewOf: str(r.review_of),
    dependsOn,
    attachments: json(r.attachments),
    testCommand: str(r.test_command ?? null),
    result: str(r.result),
    failureReason: str(r.failure_reason),
    attempts: num(r.attempts),
    reviewRequired: r.review_required === null || r.review_required === undefined ? null : r.review_required === 1,
    reviewRound: num(r.review_round ?? 0),
    assignReason: str(r.assign_reason ?? null),
    leaseOwner: str(r.lease_owner ?? null),
    leaseExpiresAt: num(r.lease_expires_at ?? null),
    createdAt: num(r.created_at),
    updatedAt: num(r.updated_at),
    startedAt: num(r.started_at),
    completedAt: num(r.completed_at),
  }, 'task');
}

export const TASK_COLUMNS =
  'id, title, description, required_skills, priority, status, assignee_id, parent_id, review_of, attachments, test_command, result, failure_reason, attempts, review_required, review_round, assign_reason, lease_owner, lease_expires_at, created_at, updated_at, started_at, completed_at';

export function taskToParams(t: Task): SqlValue[] {
  return [
    t.id, t.title, t.description, JSON.stringify(t.requiredSkills), t.priority, t.status, t.assigneeId, t.parentId,
    t.reviewOf, JSON.stringify(t.attachments), t.testCommand, t.result, t.failureReason, t.attempts,
    t.reviewRequired === null ? null : t.reviewRequired ? 1 : 0, t.reviewRound, t.assignReason, t.leaseOwner,
    t.leaseExpiresAt, t.createdAt, t.updatedAt,
    t.startedAt, t.completedAt,
  ];
}

export function updateFromRow(r: Row): TaskUpdate {
  return parse(TaskUpdate, {
    id: r.id, taskId: r.task_id, agentId: str(r.agent_id), kind: r.kind, body: r.body, createdAt: num(r.created_at),
  }, 'task update');
}

export function messageFromRow(r: Row): Message {
  return parse(Message, {
    id: r.id, taskId: str(r.task_id), fromAgent: str(r.from_agent), toAgent: str(r.to_agent), body: r.body,
    createdAt: num(r.created_at), readAt: num(r.read_at),
  }, 'message');
}

export function runFromRow(r: Row): Run {
  return parse(Run, {
    id: r.id, taskId: r.task_id, agentId: r.agent_id, agentName: str(r.agent_name ?? null), startedAt: num(r.started_at), endedAt: num(r.ended_at),
    outcome: r.outcome, reason: str(r.reason), steps: num(r.steps), promptTokens: num(r.prompt_tokens),
    completionTokens: num(r.completion_tokens), modelMs: num(r.model_ms), testsPassed: num(r.tests_passed),
    testsFailed: num(r.tests_failed), transcript: str(r.transcript), providerId: str(r.provider_id ?? null), model: str(r.model ?? null),
    errorKind: str(r.error_kind ?? null), resumedFrom: str(r.resumed_from ?? null), cachedTokens: num(r.cached_tokens ?? 0), diff: str(r.diff ?? null),
  }, 'run');
}

export function reviewFromRow(r: Row): Review {
  return parse(Review, {
    id: r.id, taskId: r.task_id, reviewTaskId: str(r.review_task_id), round: num(r.round), authorId: str(r.author_id), reviewerId: str(r.reviewer_id),
    reviewerName: r.reviewer_name, verdict: r.verdict, summary: r.summary, findings: json(r.findings), createdAt: num(r.created_at),
  }, 'review');
}

/** `?, ?, ?` for n columns. */
export function placeholders(n: number): string {
  return Array.from({ length: n }, () => '?').join(', ');
}
