/**
 * AI-to-AI review, as store mutations. When an author completes a task that requires review, the task goes
 * `in_review` and a review task (`review_of` the original, skill `review`) is queued for a reviewer agent that
 * is not the author, in the same mutation. A verdict (a reviewer agent's or a person's) is stored in
 * `reviews` and applied in one mutation too: approve completes the original; request_changes sends it back to
 * its author with the findings (a `feedback` update, which the author's next prompt carries: "address every
 * point"), or fails it once the rounds are used up.
 */
import { randomUUID } from 'node:crypto';
import { changed } from '../changes';
import { AppError } from '../errors';
import type { Finding, Task } from '../model/schemas';
import { reviewFromRow, TASK_COLUMNS, placeholders, taskToParams } from '../store/rows';
import type { ReadApi, WriteApi } from '../store/types';
import { addUpdate, mustRead, newTask, transitionTx } from '../tasks/taskService';
import type { Review } from '../model/schemas';

export interface ReviewPolicy {
  /** 'auto': when an enabled agent with the review skill (other than the author) exists. */
  required: 'auto' | 'always' | 'never';
  maxRounds: number;
}

export const DEFAULT_REVIEW: ReviewPolicy = { required: 'auto', maxRounds: 3 };
export const REVIEW_SKILL = 'review';

export const NO_REVIEWER_HINT = 'no reviewer agent: create one with the review skill, or review it yourself (Approve / Request Changes)';

/** Enabled agents with the review skill, other than `authorId`. */
export function reviewerCandidates(db: ReadApi, authorId: string | null): Array<{ id: string; name: string }> {
  return db
    .all<{ id: string; name: string; skills: string }>(`SELECT id, name, skills FROM agents WHERE enabled = 1 ORDER BY name`)
    .filter(a => a.id !== authorId && safeSkills(a.skills).includes(REVIEW_SKILL))
    .map(a => ({ id: a.id, name: a.name }));
}

export function reviewRequired(db: ReadApi, task: Task, policy: ReviewPolicy): boolean {
  if (task.reviewOf) return false; // a review is not itself reviewed
  if (task.reviewRequired !== null) return task.reviewRequired;
  if (policy.required === 'never') return false;
  if (policy.required === 'always') return true;
  return reviewerCandidates(db, task.assigneeId).length > 0;
}

/** The author's work is done: the task goes in_review with its result, and a review task is queued. */
export function startReviewTx(tx: WriteApi, taskId: string, result: string, now: number): { reviewTaskId: string | null } {
  const task = mustRead(tx, taskId);
  const round = task.reviewRound + 1;
  transitionTx(tx, taskId, 'in_review', { result }, now, `review round ${round}`);
  tx.run('UPDATE tasks SET review_round = ? WHERE id = ?', [round, taskId]);
  if (!reviewerCandidates(tx, task.assigneeId).length) {
    addUpdate(tx, taskId, 'status', `Waiting for review: ${NO_REVIEWER_HINT}.`, now);
    return { reviewTaskId: null };
  }
  const review = newTask(
    {
      title: `Review: ${task.title}${round > 1 ? ` (round ${round})` : ''}`.slice(0, 200),
      description: `Review round ${round} of "${task.title}". Check it against its description, read the diff of what the author changed, run the tests, then approve it or request changes with findings.`,
      requiredSkills: [REVIEW_SKILL], priority: task.priority, reviewOf: task.id, testCommand: task.testCommand, reviewRequired: false, reviewRound: round,
    },
    now,
  );
  const params = taskToParams(review);
  tx.run(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
  addUpdate(tx, review.id, 'status', `Created to review "${task.title}" (round ${round})`, now);
  changed(tx, 'task', 'created', review.id);
  return { reviewTaskId: review.id };
}

export interface VerdictInput {
  taskId: string;
  reviewTaskId: string | null;
  reviewerId: string | null;
  reviewerName: string;
  verdict: 'approve' | 'request_changes';
  summary: string;
  findings: Finding[];
  now: number;
  maxRounds: number;
}

/** Stores a verdict and applies it to the task under review. */
export function applyVerdictTx(tx: WriteApi, v: VerdictInput): { review: Review; task: Task } {
  const task = mustRead(tx, v.taskId);
  if (task.status !== 'in_review') throw new AppError('conflict', `"${task.title}" is ${task.status.replace('_', ' ')}, not in review.`);
  if (v.verdict === 'request_changes' && !v.findings.length) throw new AppError('validation', 'Say what to change: at least one finding (or a comment).');
  const round = Math.max(1, task.reviewRound);
  const review: Review = {
    id: randomUUID(), taskId: task.id, reviewTaskId: v.reviewTaskId, round, authorId: task.assigneeId, reviewerId: v.reviewerId,
    reviewerName: v.reviewerName, verdict: v.verdict, summary: v.summary, findings: v.findings, createdAt: v.now,
  };
  tx.run(
    'INSERT INTO reviews (id, task_id, review_task_id, round, author_id, reviewer_id, reviewer_name, verdict, summary, findings, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    [review.id, review.taskId, review.reviewTaskId, review.round, review.authorId, review.reviewerId, review.reviewerName, review.verdict, review.summary, JSON.stringify(review.findings), review.createdAt],
  );
  changed(tx, 'review', 'created', review.id, { taskId: task.id, agentId: v.reviewerId ?? undefined });
  // Any other open review of this task is moot now (a person reviewed while an agent was queued to).
  for (const r of tx.all<{ id: string }>(`SELECT id FROM tasks WHERE review_of = ? AND status IN ('pending','blocked','in_progress') AND id IS NOT ?`, [task.id, v.reviewTaskId])) {
    const other = mustRead(tx, r.id);
    transitionTx(tx, r.id, 'cancelled', { failureReason: `${v.reviewerName} reviewed it first`, leaseOwner: other.leaseOwner, leaseExpiresAt: other.leaseExpiresAt }, v.now);
  }
  let next: Task;
  if (v.verdict === 'approve') {
    addUpdate(tx, task.id, 'feedback', `Approved by ${v.reviewerName} (round ${round}): ${v.summary}`, v.now, v.reviewerId);
    next = transitionTx(tx, task.id, 'completed', {}, v.now, `approved by ${v.reviewerName}`);
  } else {
    const text = formatFindings(v.reviewerName, round, v.summary, v.findings);
    addUpdate(tx, task.id, 'feedback', text, v.now, v.reviewerId);
    if (round >= v.maxRounds) {
      next = transitionTx(tx, task.id, 'failed', { failureReason: `Review not passed after ${round} round${round > 1 ? 's' : ''}. Last findings:\n${text}` }, v.now);
    } else {
      next = transitionTx(tx, task.id, 'pending', {}, v.now, `changes requested by ${v.reviewerName} (round ${round} of ${v.maxRounds})`);
    }
  }
  return { review, task: next };
}

export function formatFindings(reviewer: string, round: number, summary: string, findings: readonly Finding[]): string {
  return [
    `${reviewer} requested changes (review round ${round})${summary ? `: ${summary}` : ''}`,
    ...findings.map(f => `- [${f.severity}] ${f.file}${f.line ? `:${f.line}` : ''}: ${f.comment}`),
  ].join('\n');
}

export function reviewById(db: ReadApi, id: string): Review | undefined {
  const row = db.get('SELECT * FROM reviews WHERE id = ?', [id]);
  return row && reviewFromRow(row);
}

export function reviewsOf(db: ReadApi, taskId: string): Review[] {
  return db.all('SELECT * FROM reviews WHERE task_id = ? ORDER BY round, created_at', [taskId]).map(reviewFromRow);
}

function safeSkills(json: string): string[] {
  try {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}
