/**
 * Subtasks: an agent splits its task. The children are queued (for any fitting agent) with the task as their
 * parent, and the parent depends on them, so it waits `blocked` and is queued again, to resume with their
 * results, when they are all completed. Depth and count are capped, with reasons the model can act on.
 */
import { changed } from '../changes';
import { AppError } from '../errors';
import { Skills } from '../model/schemas';
import { placeholders, TASK_COLUMNS, taskToParams } from '../store/rows';
import type { ReadApi, WriteApi } from '../store/types';
import { addUpdate, mustRead, newTask } from '../tasks/taskService';
import { SUBTASK_LIMITS, type SubtaskSpec } from '../tools/types';

/** How many parents above a task (0 for a top-level task). */
export function depthOf(db: ReadApi, taskId: string): number {
  let depth = 0;
  let id: string | null = taskId;
  const seen = new Set<string>();
  while (id && !seen.has(id)) {
    seen.add(id);
    id = db.get<{ parent_id: string | null }>('SELECT parent_id FROM tasks WHERE id = ?', [id])?.parent_id ?? null;
    if (id) depth++;
  }
  return depth;
}

export function createSubtasksTx(tx: WriteApi, parentId: string, specs: readonly SubtaskSpec[], now: number): string[] {
  const parent = mustRead(tx, parentId);
  if (parent.reviewOf) throw new AppError('validation', 'A review cannot be split into subtasks.');
  const depth = depthOf(tx, parentId);
  if (depth + 1 > SUBTASK_LIMITS.maxDepth) {
    throw new AppError('validation', `Subtasks can nest ${SUBTASK_LIMITS.maxDepth} levels deep and this task is already a subtask of a subtask: do the work yourself.`);
  }
  const existing = Number(tx.get<{ n: number }>('SELECT COUNT(*) AS n FROM tasks WHERE parent_id = ?', [parentId])?.n ?? 0);
  if (existing + specs.length > SUBTASK_LIMITS.maxChildren) {
    throw new AppError('validation', `A task can have at most ${SUBTASK_LIMITS.maxChildren} subtasks (it has ${existing}); group the smaller ones.`);
  }
  const ids: string[] = [];
  for (const spec of specs) {
    const child = newTask({ title: spec.title.slice(0, 200), description: spec.description, requiredSkills: Skills.parse(spec.skills), priority: parent.priority, parentId }, now);
    const params = taskToParams(child);
    tx.run(`INSERT INTO tasks (${TASK_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
    tx.run('INSERT INTO task_deps (task_id, depends_on_id) VALUES (?, ?)', [parentId, child.id]);
    addUpdate(tx, child.id, 'status', `Created as a subtask of "${parent.title}"`, now);
    changed(tx, 'task', 'created', child.id);
    ids.push(child.id);
  }
  addUpdate(tx, parentId, 'plan', `Split into ${specs.length} subtask${specs.length > 1 ? 's' : ''}: ${specs.map(s => s.title).join('; ')}`, now);
  changed(tx, 'task', 'updated', parentId);
  return ids;
}
