/**
 * Claiming and finishing runs: each is ONE store mutation, so a crash can never leave a task in progress
 * without its run row, two windows can never start two tasks on one agent, and no provider and model is
 * given more runs than its slots, counted from the runs table (every window's runs, not only ours).
 */
import { changed } from '../changes';
import { setAgentStatusTx } from '../agents/agentService';
import { AppError } from '../errors';
import type { Agent, Provider, RunOutcome, Task } from '../model/schemas';
import { agentFromRow, AGENT_COLUMNS, providerFromRow } from '../store/rows';
import type { ReadApi, WriteApi } from '../store/types';
import { addUpdate, mustRead, transitionTx } from '../tasks/taskService';
import type { Verdict } from '../tools/types';
import { applyVerdictTx, DEFAULT_REVIEW, reviewRequired, startReviewTx, type ReviewPolicy } from './review';

export interface ClaimRequest {
  taskId: string;
  /** The agent to run it; default the task's assignee. */
  agentId?: string;
  /** The provider to run it on; default the agent's own. */
  providerId?: string;
  runId: string;
  /** This process's lease owner id. */
  owner: string;
  leaseMs: number;
  now: number;
  /** Why this agent (recorded on the task when the scheduler chose it). */
  reason?: string;
  /** A person asked for this run: an agent in `error` may try again. The scheduler leaves such agents alone. */
  manual: boolean;
}

export interface Claim {
  task: Task;
  agent: Agent;
  provider: Provider;
  runId: string;
  /** The interrupted run this one resumes (its transcript holds the conversation so far). */
  resumeFrom?: { runId: string; transcript: string | null; steps: number };
}

/** Runs that hold a slot of this provider and model right now (every window's). */
export function slotsInUse(db: ReadApi, providerId: string, model: string): number {
  return Number(db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM runs WHERE outcome = 'running' AND provider_id = ? AND model = ?`, [providerId, model])?.n ?? 0);
}

export function claimTx(tx: WriteApi, req: ClaimRequest): Claim {
  const task = mustRead(tx, req.taskId);
  if (task.status !== 'pending') {
    throw new AppError('conflict', `"${task.title}" is ${task.status.replace('_', ' ')}, not waiting to run.`, { status: task.status });
  }
  const agentId = req.agentId ?? task.assigneeId;
  if (!agentId) throw new AppError('validation', `"${task.title}" has no agent. Assign it to an agent first.`);
  const row = tx.get(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`, [agentId]);
  if (!row) throw new AppError('not_found', 'That agent no longer exists. It may have been deleted in another window.', { id: agentId });
  const agent = agentFromRow(row);
  if (!agent.enabled) throw new AppError('conflict', `Agent "${agent.name}" is disabled. Enable it first.`, { disabled: agent.id });
  if (agent.status === 'busy') throw new AppError('conflict', `Agent "${agent.name}" is busy with another task. Wait for it, or cancel that run.`, { busy: agent.id });
  if (agent.status === 'error' && !req.manual) throw new AppError('conflict', `Agent "${agent.name}" needs attention: ${agent.statusReason ?? 'it is in error'}.`);
  // Escalated to a stronger model: this task runs on it (and its provider), whoever planned otherwise.
  const override = parseOverride(tx.get<{ model_override: string | null }>('SELECT model_override FROM tasks WHERE id = ?', [task.id])?.model_override ?? null);
  if (override) agent.model = override.model;
  const providerId = override?.providerId ?? req.providerId ?? agent.providerId;
  const prow = tx.get('SELECT * FROM providers WHERE id = ?', [providerId]);
  if (!prow) throw new AppError('not_found', `The model provider of "${agent.name}" no longer exists. Edit the agent to choose another.`, { providerId });
  const provider = providerFromRow(prow);
  const used = slotsInUse(tx, provider.id, agent.model);
  if (used >= provider.maxConcurrency) {
    throw new AppError('no_slot', `${provider.name} is serving ${agent.model} to ${used} run${used === 1 ? '' : 's'} already (its slots: ${provider.maxConcurrency}).`, {
      providerId: provider.id, model: agent.model,
    });
  }
  if (agent.status !== 'ready' && agent.status !== 'error') throw new AppError('conflict', `Agent "${agent.name}" is ${agent.status}.`);

  const last = tx.get<{ id: string; outcome: string; transcript: string | null; steps: number }>(
    'SELECT id, outcome, transcript, steps FROM runs WHERE task_id = ? AND agent_id = ? ORDER BY started_at DESC, rowid DESC LIMIT 1',
    [task.id, agent.id],
  );
  const resumeFrom = last?.outcome === 'interrupted' ? { runId: last.id, transcript: last.transcript, steps: Number(last.steps) } : undefined;

  if (agent.status === 'error') setAgentStatusTx(tx, agent.id, 'ready', null, req.now); // a person tries again
  setAgentStatusTx(tx, agent.id, 'busy', `Working on "${task.title}"`, req.now);
  const claimed = transitionTx(
    tx, task.id, 'in_progress',
    {
      assigneeId: agent.id,
      assignReason: req.reason ?? (task.assigneeId === agent.id ? task.assignReason : 'assigned by hand'),
      leaseOwner: req.owner,
      leaseExpiresAt: req.now + req.leaseMs,
    },
    req.now,
    `${req.reason ? `assigned to ${agent.name}: ${req.reason}; ` : ''}${agent.name} on ${agent.model} (${provider.name})${resumeFrom ? ', resuming the interrupted run' : ''}`,
  );
  tx.run(
    'INSERT INTO runs (id, task_id, agent_id, agent_name, started_at, outcome, owner, provider_id, model, resumed_from) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [req.runId, task.id, agent.id, agent.name, req.now, 'running', req.owner, provider.id, agent.model, resumeFrom?.runId ?? null],
  );
  changed(tx, 'run', 'created', req.runId, { taskId: task.id, agentId: agent.id });
  return { task: claimed, agent: { ...agent, status: 'busy' }, provider, runId: req.runId, resumeFrom };
}

export interface RunEnd {
  runId: string;
  owner: string;
  outcome: Exclude<RunOutcome, 'running'>;
  /** The agent's result (completed) or why it ended. */
  result?: string;
  reason?: string;
  errorKind?: string;
  steps: number;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  modelMs: number;
  /** Of modelMs, where the server reported them apart: prompt evaluation and generation (0 when not). */
  promptMs?: number;
  evalMs?: number;
  testsPassed: number;
  testsFailed: number;
  transcript: string | null;
  now: number;
  /** After an interruption: attempts allowed before the task fails instead of going back to the queue. */
  maxAttempts: number;
  /** Put the agent in `error` with this reason (the user must act: model missing, unauthorized). */
  agentError?: string;
  /** A reviewer's verdict (the run was a review task's). */
  verdict?: Verdict;
  /** The run ended stuck: hand the task once to this stronger agent, with a summary of what was tried. */
  escalate?: { to: string; summary: string; model?: { providerId: string; model: string } };
  /** The diff file of what the run changed in the agent's folder. */
  diff?: string | null;
  review: ReviewPolicy;
}

/**
 * Ends a run in one mutation: the run row, the task (completed, failed, cancelled, or back to the queue
 * when interrupted) and the agent. A task that already left this run (cancelled on the board, its lease
 * expired and taken by another window) is left as it is.
 */
export function finishTx(tx: WriteApi, end: RunEnd): { task?: Task; requeued: boolean } {
  const run = tx.get<{ task_id: string; agent_id: string; outcome: string }>('SELECT task_id, agent_id, outcome FROM runs WHERE id = ?', [end.runId]);
  if (!run) return { requeued: false }; // its task or agent was deleted meanwhile
  if (run.outcome === 'running') {
    tx.run(
      `UPDATE runs SET ended_at = ?, outcome = ?, reason = ?, error_kind = ?, steps = ?, prompt_tokens = ?, completion_tokens = ?, cached_tokens = ?, model_ms = ?, prompt_ms = ?, eval_ms = ?,
         tests_passed = ?, tests_failed = ?, transcript = ?, diff = ? WHERE id = ?`,
      [end.now, end.outcome, end.reason ?? null, end.errorKind ?? null, end.steps, end.promptTokens, end.completionTokens, end.cachedTokens, end.modelMs,
        end.promptMs ?? 0, end.evalMs ?? 0, end.testsPassed, end.testsFailed, end.transcript, end.diff ?? null, end.runId],
    );
    changed(tx, 'run', 'updated', end.runId, { taskId: run.task_id, agentId: run.agent_id });
  }
  let task: Task | undefined;
  let requeued = false;
  const current = tx.get<{ status: string; lease_owner: string | null; attempts: number }>('SELECT status, lease_owner, attempts FROM tasks WHERE id = ?', [run.task_id]);
  if (current?.status === 'in_progress' && current.lease_owner === end.owner) {
    switch (end.outcome) {
      case 'completed': {
        const done = mustRead(tx, run.task_id);
        addUpdate(tx, run.task_id, 'result', end.result ?? '', end.now, run.agent_id);
        if (done.reviewOf && end.verdict) {
          // A reviewer's verdict: the review task is done, and the verdict goes to the task it reviewed.
          task = transitionTx(tx, run.task_id, 'completed', { result: end.result ?? '' }, end.now);
          const original = tx.get<{ status: string }>('SELECT status FROM tasks WHERE id = ?', [done.reviewOf]);
          if (original?.status === 'in_review') {
            const name = tx.get<{ name: string }>('SELECT name FROM agents WHERE id = ?', [run.agent_id])?.name ?? 'the reviewer';
            applyVerdictTx(tx, {
              taskId: done.reviewOf, reviewTaskId: done.id, reviewerId: run.agent_id, reviewerName: name, verdict: end.verdict.verdict,
              summary: end.verdict.summary, findings: end.verdict.findings, now: end.now, maxRounds: end.review.maxRounds,
            });
          }
        } else if (reviewRequired(tx, done, end.review)) {
          startReviewTx(tx, run.task_id, end.result ?? '', end.now);
          task = mustRead(tx, run.task_id);
        } else {
          task = transitionTx(tx, run.task_id, 'completed', { result: end.result ?? '' }, end.now);
        }
        break;
      }
      case 'cancelled':
        task = transitionTx(tx, run.task_id, 'cancelled', { failureReason: end.reason ?? 'Cancelled by user' }, end.now);
        break;
      case 'interrupted':
        if (end.errorKind === 'waiting') {
          // Waiting for its subtasks: blocked on them, queued again when they are all completed.
          task = transitionTx(tx, run.task_id, 'blocked', {}, end.now, end.reason ?? 'waiting for its subtasks');
        } else if (Number(current.attempts) >= end.maxAttempts) {
          task = transitionTx(tx, run.task_id, 'failed', {
            failureReason: `Interrupted ${current.attempts} times (the limit is ${end.maxAttempts}, setting ai2ai.scheduler.maxAttempts). Last: ${end.reason ?? 'interrupted'}`,
          }, end.now);
        } else {
          task = transitionTx(tx, run.task_id, 'pending', {}, end.now, `${end.reason ?? 'interrupted'}; the next run resumes where this one stopped`);
          requeued = true;
        }
        break;
      default: {
        const escalated = tx.get<{ escalated_from: string | null }>('SELECT escalated_from FROM tasks WHERE id = ?', [run.task_id])?.escalated_from;
        const to = end.escalate && !escalated ? tx.get<{ id: string; name: string; enabled: number }>('SELECT id, name, enabled FROM agents WHERE id = ?', [end.escalate.to]) : undefined;
        const model = end.escalate?.model;
        if (to?.enabled && (to.id !== run.agent_id || model)) {
          // Stuck: retried once by the stronger fallback (another agent, or this one on a stronger model), starting from what was tried.
          const from = tx.get<{ name: string }>('SELECT name FROM agents WHERE id = ?', [run.agent_id])?.name ?? 'the agent';
          const target = model ? `${to.name} on ${model.model}` : to.name;
          addUpdate(tx, run.task_id, 'feedback', `${from} got stuck (${end.reason ?? 'no result'}). Escalated to ${target}. What ${from} tried:\n${end.escalate!.summary}`, end.now, run.agent_id);
          task = transitionTx(tx, run.task_id, 'pending', { assigneeId: to.id, assignReason: `escalated from ${from}${model ? ` on its model` : ''}` }, end.now, `escalated to ${target}`);
          tx.run('UPDATE tasks SET escalated_from = ?, model_override = ? WHERE id = ?', [run.agent_id, model ? JSON.stringify(model) : null, run.task_id]);
          break;
        }
        task = transitionTx(tx, run.task_id, 'failed', { failureReason: end.reason ?? 'The run ended without a result.' }, end.now);
        if (task.reviewOf) {
          addUpdate(tx, task.reviewOf, 'status', `The review "${task.title}" ended without a verdict: ${end.reason ?? 'no result'}. Retry it, or review the task yourself.`, end.now);
        }
      }
    }
  }
  const agent = tx.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [run.agent_id]);
  // The agent is free again unless another run of it started meanwhile (possible only after this run's lease expired).
  const other = tx.get(`SELECT 1 AS x FROM runs WHERE agent_id = ? AND outcome = 'running' AND id <> ? LIMIT 1`, [run.agent_id, end.runId]);
  if (agent?.status === 'busy' && !other) setAgentStatusTx(tx, run.agent_id, end.agentError ? 'error' : 'ready', end.agentError ?? null, end.now);
  return { task, requeued };
}

/** Renews the leases of the tasks this process runs. Returns the ids whose lease is no longer ours. */
export function renewTx(tx: WriteApi, owner: string, taskIds: readonly string[], now: number, leaseMs: number): string[] {
  const lost: string[] = [];
  for (const id of taskIds) {
    const r = tx.run(`UPDATE tasks SET lease_expires_at = ? WHERE id = ? AND status = 'in_progress' AND lease_owner = ?`, [now + leaseMs, id, owner]);
    if (!r.changes) lost.push(id);
  }
  return lost;
}

/**
 * Tasks whose lease ran out (their window was killed, reloaded, or slept): the run is marked interrupted,
 * the task goes back to the queue (or fails after too many attempts), the agent is ready again. Any
 * window may do this; the next run resumes from the interrupted run's transcript.
 */
export function expireLeasesTx(tx: WriteApi, now: number, maxAttempts: number): string[] {
  const expired = tx.all<{ id: string; lease_owner: string | null }>(
    `SELECT id, lease_owner FROM tasks WHERE status = 'in_progress' AND (lease_expires_at IS NULL OR lease_expires_at < ?)`,
    [now],
  );
  for (const t of expired) {
    const runs = tx.all<{ id: string }>(`SELECT id FROM runs WHERE task_id = ? AND outcome = 'running'`, [t.id]);
    const owner = t.lease_owner ?? '';
    if (!runs.length) {
      // No run row (written by an older version): nothing to resume, back to the queue.
      transitionTx(tx, t.id, 'pending', {}, now, 'its run was lost; back in the queue');
      continue;
    }
    for (const r of runs) {
      finishTx(tx, {
        runId: r.id, owner, outcome: 'interrupted', reason: 'The window running it stopped renewing its lease (closed, reloaded or killed)',
        errorKind: 'interrupted', steps: 0, promptTokens: 0, completionTokens: 0, cachedTokens: 0, modelMs: 0, testsPassed: 0, testsFailed: 0,
        transcript: null, now, maxAttempts, review: DEFAULT_REVIEW,
      });
    }
  }
  // Runs left 'running' whose task left in_progress without them (cancelled on the board while their window
  // was gone): a cancel keeps the lease, which the live owner stops renewing, so once it lapses nobody runs it.
  for (const r of tx.all<{ id: string; task_id: string; agent_id: string }>(
    `SELECT r.id, r.task_id, r.agent_id FROM runs r JOIN tasks t ON t.id = r.task_id
      WHERE r.outcome = 'running' AND t.status <> 'in_progress' AND (t.lease_expires_at IS NULL OR t.lease_expires_at < ?)`,
    [now],
  )) {
    tx.run(`UPDATE runs SET outcome = 'interrupted', ended_at = ?, reason = ?, error_kind = 'interrupted' WHERE id = ?`, [now, 'Its window stopped before it ended', r.id]);
    changed(tx, 'run', 'updated', r.id, { taskId: r.task_id, agentId: r.agent_id });
    const agent = tx.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [r.agent_id]);
    const other = tx.get(`SELECT 1 AS x FROM runs WHERE agent_id = ? AND outcome = 'running' LIMIT 1`, [r.agent_id]);
    if (agent?.status === 'busy' && !other) setAgentStatusTx(tx, r.agent_id, 'ready', null, now);
  }
  return expired.map(t => t.id);
}

function parseOverride(json: string | null): { providerId: string; model: string } | undefined {
  if (!json) return undefined;
  try {
    const v = JSON.parse(json) as { providerId?: unknown; model?: unknown };
    return typeof v.providerId === 'string' && typeof v.model === 'string' ? { providerId: v.providerId, model: v.model } : undefined;
  } catch {
    return undefined;
  }
}
