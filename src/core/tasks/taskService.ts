/**
 * Tasks: create, edit, delete, cancel, retry, assign, dependencies, and every status change through the
 * task state machine. Each change is one store mutation (checked again under the lock, so two windows
 * cannot both start the same task) followed by one change event.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { changed } from '../changes';
import { AppError } from '../errors';
import { Attachment, Id, Priority, Skills, Task, TaskStatus } from '../model/schemas';
import { assertTaskTransition } from '../model/transitions';
import type { Clock, Logger } from '../ports';
import { TASK_COLUMNS, placeholders, taskFromRow, taskToParams } from '../store/rows';
import type { ReadApi, Store, WriteApi } from '../store/types';
import { definedOnly, parseInput } from '../util';

export const CreateTaskInput = z.object({
  title: Task.shape.title,
  description: Task.shape.description.default(''),
  requiredSkills: Skills.default([]),
  priority: Priority.default(1),
  dependsOn: z.array(Id).default([]),
  attachments: z.array(Attachment).default([]),
  testCommand: Task.shape.testCommand.default(null),
  parentId: Id.nullable().default(null),
  reviewOf: Id.nullable().default(null),
  assigneeId: Id.nullable().default(null),
  /** null (default): as ai2ai.review.required says. */
  reviewRequired: z.boolean().nullable().default(null),
});
export type CreateTaskInput = z.input<typeof CreateTaskInput>;

export const EditTaskInput = z.object({
  title: Task.shape.title.optional(),
  description: Task.shape.description.optional(),
  requiredSkills: Skills.optional(),
  priority: Priority.optional(),
  dependsOn: z.array(Id).optional(),
  attachments: z.array(Attachment).optional(),
  testCommand: Task.shape.testCommand.optional(),
});
export type EditTaskInput = z.input<typeof EditTaskInput>;

export interface TaskFilter {
  status?: TaskStatus[];
  assigneeId?: string;
  parentId?: string;
  reviewOf?: string;
}

export class TaskService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  list(filter: TaskFilter = {}): Task[] {
    const where: string[] = [];
    const params: string[] = [];
    if (filter.status?.length) {
      where.push(`status IN (${placeholders(filter.status.length)})`);
      params.push(...filter.status);
    }
    if (filter.assigneeId) {
      where.push('assignee_id = ?');
      params.push(filter.assigneeId);
    }
    if (filter.parentId) {
      where.push('parent_id = ?');
      params.push(filter.parentId);
    }
    if (filter.reviewOf) {
      where.push('review_of = ?');
      params.push(filter.reviewOf);
    }
    const rows = this.store.read.all(
      `SELECT ${TASK_COLUMNS} FROM tasks ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY priority DESC, created_at ASC`,
      params,
    );
    const deps = allDeps(this.store.read);
    return rows.map(r => taskFromRow(r, deps.get(String(r.id)) ?? []));
  }

  /** How many tasks are in each status: one query, no row parsing (the status bar asks on every change). */
  counts(): Record<TaskStatus, number> {
    const out = Object.fromEntries(TaskStatus.options.map(s => [s, 0])) as Record<TaskStatus, number>;
    for (const r of this.store.read.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status')) {
      if (r.status in out) out[r.status as TaskStatus] = Number(r.n);
    }
    return out;
  }

  find(id: string): Task | undefined {
    return readTask(this.store.read, id);
  }

  get(id: string): Task {
    const t = this.find(id);
    if (!t) throw notFound(id);
    return t;
  }

  create(input: CreateTaskInput): Task {
    const data = parseInput(CreateTaskInput, input);
    const now = this.clock.now();
    const task = newTask({ ...data, dependsOn: [...new Set(data.dependsOn)], assignReason: data.assigneeId ? 'assigned by hand' : null }, now);
    this.store.mutate(tx => {
      for (const dep of task.dependsOn) if (!readTask(tx, dep)) throw new AppError('validation', 'A task it depends on no longer exists.', { dep });
      if (task.assigneeId) assertAgentExists(tx, task.assigneeId);
      if (task.dependsOn.some(dep => readTask(tx, dep)?.status !== 'completed')) task.status = 'blocked';
      const params = taskToParams(task);
      tx.run(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
      for (const dep of task.dependsOn) tx.run('INSERT INTO task_deps (task_id, depends_on_id) VALUES (?, ?)', [task.id, dep]);
      addUpdate(tx, task.id, 'status', `Created as ${task.status}`, now);
      changed(tx, 'task', 'created', task.id);
    });
    this.log.info(`[tasks] created "${task.title}" (${task.status})`);
    return task;
  }

  edit(id: string, input: EditTaskInput): Task {
    const patch = parseInput(EditTaskInput, input);
    let result!: Task;
    this.store.mutate(tx => {
      const current = mustRead(tx, id);
      const running = current.status === 'in_progress' || current.status === 'in_review';
      if (running && (patch.description !== undefined || patch.requiredSkills || patch.dependsOn || patch.attachments || patch.testCommand !== undefined)) {
        throw new AppError('conflict', `"${current.title}" is ${current.status.replace('_', ' ')}. Only its title and priority can change now; cancel it to change more.`);
      }
      const now = this.clock.now();
      result = { ...current, ...definedOnly(patch), updatedAt: now };
      if (patch.dependsOn) {
        result.dependsOn = [...new Set(patch.dependsOn)];
        this.replaceDeps(tx, id, result.dependsOn);
        result.status = settleBlocked(tx, result);
      }
      tx.run(
        'UPDATE tasks SET title = ?, description = ?, required_skills = ?, priority = ?, attachments = ?, test_command = ?, status = ?, updated_at = ? WHERE id = ?',
        [result.title, result.description, JSON.stringify(result.requiredSkills), result.priority, JSON.stringify(result.attachments), result.testCommand, result.status, now, id],
      );
      changed(tx, 'task', 'updated', id);
    });
    return result;
  }

  delete(id: string): Task {
    let task!: Task;
    this.store.mutate(tx => {
      task = mustRead(tx, id);
      if (task.status === 'in_progress' || task.status === 'in_review') {
        throw new AppError('conflict', `"${task.title}" is running. Cancel it first, then delete it.`);
      }
      const dependents = tx.all<{ task_id: string }>('SELECT task_id FROM task_deps WHERE depends_on_id = ?', [id]);
      tx.run('DELETE FROM tasks WHERE id = ?', [id]);
      // A dependency that is gone no longer blocks anyone.
      changed(tx, 'task', 'deleted', id);
      for (const d of dependents) unblockIfReady(tx, d.task_id, this.clock.now());
    });
    this.log.info(`[tasks] deleted "${task.title}"`);
    return task;
  }

  cancel(id: string, reason = 'Cancelled by user'): Task {
    return this.transition(id, 'cancelled', { failureReason: reason });
  }

  /** Back to the board: failed or cancelled -> pending (or blocked, if its dependencies are not done). */
  retry(id: string): Task {
    return this.transition(id, 'pending', { failureReason: null, result: null, completedAt: null });
  }

  /** Gives the task to an agent. A failed or cancelled task goes back to pending with it. */
  assign(id: string, agentId: string | null, reason = 'assigned by hand'): Task {
    return this.store.mutate(tx => assignTx(tx, id, agentId, agentId ? reason : null, this.clock.now()));
  }

  /**
   * The one general status change, guarded by the state machine under the lock. Lifecycle fields
   * (startedAt, completedAt, attempts) follow the status; a completed task unblocks its dependents.
   */
  transition(id: string, to: TaskStatus, fields: TransitionFields = {}): Task {
    return this.store.mutate(tx => transitionTx(tx, id, to, fields, this.clock.now()));
  }

  /** Replaces a task's dependencies, refusing unknown tasks and cycles. */
  setDependencies(id: string, dependsOn: string[]): Task {
    return this.edit(id, { dependsOn });
  }

  private replaceDeps(tx: WriteApi, id: string, deps: string[]): void {
    for (const dep of deps) {
      if (dep === id) throw new AppError('validation', 'A task cannot depend on itself.');
      if (!readTask(tx, dep)) throw new AppError('validation', 'A task it depends on no longer exists.', { dep });
      if (reaches(tx, dep, id)) {
        throw new AppError('validation', `That dependency would make a cycle: "${readTask(tx, dep)?.title}" already depends on this task.`);
      }
    }
    tx.run('DELETE FROM task_deps WHERE task_id = ?', [id]);
    for (const dep of deps) tx.run('INSERT INTO task_deps (task_id, depends_on_id) VALUES (?, ?)', [id, dep]);
  }

}

export type TransitionFields = Partial<Pick<Task, 'result' | 'failureReason' | 'completedAt' | 'assigneeId' | 'assignReason' | 'leaseOwner' | 'leaseExpiresAt'>>;

/** Repository functions: they take the transaction, so one mutation can span several services. */
export function assignTx(tx: WriteApi, id: string, agentId: string | null, reason: string | null, now: number): Task {
  const task = mustRead(tx, id);
  if (agentId) assertAgentExists(tx, agentId);
  if (task.status === 'in_progress' || task.status === 'in_review' || task.status === 'completed') {
    throw new AppError('conflict', `"${task.title}" is ${task.status.replace('_', ' ')}; it can be reassigned only when pending, blocked, failed or cancelled.`);
  }
  let status: TaskStatus = task.status;
  if (status === 'failed' || status === 'cancelled') {
    assertTaskTransition(status, 'pending', task.title);
    status = settleBlocked(tx, { ...task, status: 'pending' });
  }
  tx.run(
    'UPDATE tasks SET assignee_id = ?, assign_reason = ?, status = ?, failure_reason = CASE WHEN ? = status THEN failure_reason ELSE NULL END, updated_at = ? WHERE id = ?',
    [agentId, reason, status, status, now, id],
  );
  const name = agentId ? tx.get<{ name: string }>('SELECT name FROM agents WHERE id = ?', [agentId])?.name : null;
  addUpdate(tx, id, 'status', name ? `Assigned to ${name}${reason && reason !== 'assigned by hand' ? `: ${reason}` : ''}` : 'Unassigned', now);
  changed(tx, 'task', 'updated', id);
  return { ...task, assigneeId: agentId, assignReason: reason, status, updatedAt: now };
}

/**
 * The one general status change, guarded by the state machine. Lifecycle fields (startedAt, completedAt,
 * attempts, lease) follow the status; a completed task unblocks its dependents, and says so.
 */
export function transitionTx(tx: WriteApi, id: string, to: TaskStatus, fields: TransitionFields, now: number, note?: string): Task {
  const current = mustRead(tx, id);
  assertTaskTransition(current.status, to, current.title);
  const task: Task = { ...current, ...fields, status: to, updatedAt: now };
  if (to === 'in_progress') {
    task.startedAt = now;
    task.attempts = current.attempts + 1;
  } else if (!('leaseOwner' in fields)) {
    // Only a running task holds a lease.
    task.leaseOwner = null;
    task.leaseExpiresAt = null;
  }
  if (to === 'completed' || to === 'failed' || to === 'cancelled') task.completedAt = now;
  if (to === 'pending') task.status = settleBlocked(tx, task);
  tx.run(
    `UPDATE tasks SET status = ?, result = ?, failure_reason = ?, assignee_id = ?, assign_reason = ?, attempts = ?, lease_owner = ?, lease_expires_at = ?,
       started_at = ?, completed_at = ?, updated_at = ? WHERE id = ?`,
    [task.status, task.result, task.failureReason, task.assigneeId, task.assignReason, task.attempts, task.leaseOwner, task.leaseExpiresAt,
      task.startedAt, task.completedAt, now, id],
  );
  const why = to === 'failed' || to === 'cancelled' ? `: ${task.failureReason ?? ''}` : note ? `: ${note}` : '';
  addUpdate(tx, id, 'status', `${current.status} → ${task.status}${why}`, now);
  changed(tx, 'task', 'updated', id);
  if (to === 'completed') {
    for (const d of tx.all<{ task_id: string }>('SELECT task_id FROM task_deps WHERE depends_on_id = ?', [id])) {
      unblockIfReady(tx, d.task_id, now);
    }
  }
  return task;
}

/** pending <-> blocked according to the dependencies; other statuses are left alone. */
export function settleBlocked(tx: ReadApi, task: Pick<Task, 'id' | 'status'>): TaskStatus {
  if (task.status !== 'pending' && task.status !== 'blocked') return task.status;
  const open = tx.get(
    `SELECT 1 AS x FROM task_deps d JOIN tasks t ON t.id = d.depends_on_id WHERE d.task_id = ? AND t.status <> 'completed' LIMIT 1`,
    [task.id],
  );
  return open ? 'blocked' : 'pending';
}

function unblockIfReady(tx: WriteApi, id: string, now: number): void {
  const t = readTask(tx, id);
  if (!t || t.status !== 'blocked') return;
  if (settleBlocked(tx, t) === 'pending') {
    tx.run(`UPDATE tasks SET status = 'pending', updated_at = ? WHERE id = ?`, [now, id]);
    addUpdate(tx, id, 'status', 'blocked → pending: its dependencies are done', now);
    changed(tx, 'task', 'updated', id);
  }
}

export function addUpdate(tx: WriteApi, taskId: string, kind: string, body: string, now: number, agentId: string | null = null): void {
  const id = randomUUID();
  tx.run('INSERT INTO task_updates (id, task_id, agent_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?, ?)', [id, taskId, agentId, kind, body, now]);
  changed(tx, 'update', 'created', id, { taskId });
}

/** A new pending task: what it asks, with every lifecycle field at its start. */
export function newTask(fields: Pick<Task, 'title'> & Partial<Task>, now: number): Task {
  return {
    id: randomUUID(), description: '', requiredSkills: [], priority: 1, assigneeId: null, parentId: null, reviewOf: null, dependsOn: [], attachments: [],
    testCommand: null, reviewRequired: null, assignReason: null,
    ...fields,
    status: 'pending', result: null, failureReason: null, attempts: 0, reviewRound: fields.reviewRound ?? 0, leaseOwner: null, leaseExpiresAt: null,
    createdAt: now, updatedAt: now, startedAt: null, completedAt: null,
  };
}

export function readTask(db: ReadApi, id: string): Task | undefined {
  const row = db.get(`SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ?`, [id]);
  if (!row) return undefined;
  const deps = db.all<{ depends_on_id: string }>('SELECT depends_on_id FROM task_deps WHERE task_id = ?', [id]).map(r => r.depends_on_id);
  return taskFromRow(row, deps);
}

export function mustRead(db: ReadApi, id: string): Task {
  const t = readTask(db, id);
  if (!t) throw notFound(id);
  return t;
}

function allDeps(db: ReadApi): Map<string, string[]> {
  const m = new Map<string, string[]>();
  for (const r of db.all<{ task_id: string; depends_on_id: string }>('SELECT task_id, depends_on_id FROM task_deps')) {
    const list = m.get(r.task_id) ?? [];
    list.push(r.depends_on_id);
    m.set(r.task_id, list);
  }
  return m;
}

/** Whether `from` depends, directly or not, on `to`. */
function reaches(db: ReadApi, from: string, to: string): boolean {
  const row = db.get(
    `WITH RECURSIVE up(id) AS (SELECT ? UNION SELECT d.depends_on_id FROM task_deps d JOIN up ON d.task_id = up.id)
     SELECT 1 AS x FROM up WHERE id = ? LIMIT 1`,
    [from, to],
  );
  return !!row;
}

function assertAgentExists(db: ReadApi, id: string): void {
  if (!db.get('SELECT 1 AS x FROM agents WHERE id = ?', [id])) {
    throw new AppError('not_found', 'That agent no longer exists. It may have been deleted in another window.', { id });
  }
}

function notFound(id: string): AppError {
  return new AppError('not_found', 'That task no longer exists. It may have been deleted in another window.', { id });
}
