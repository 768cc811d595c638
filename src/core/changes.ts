/**
 * The one change feed. Every committed store mutation publishes exactly what it changed (collected by the
 * mutation itself through `tx.changed`, side effects included) with its journal sequence number, in
 * this window and, read back from the `change_log` table after catching up, in every other window.
 * The trees, the status bar, the scheduler and later the API's WebSocket all subscribe to it.
 */
import { Emitter } from './events';
import type { ChangeRecord, WriteApi } from './store/types';

export type Entity = 'provider' | 'agent' | 'task' | 'update' | 'message' | 'run' | 'review';

export interface EntityChange extends ChangeRecord {
  entity: Entity;
}

export interface CoreChange {
  /** The mutation's journal sequence number; increasing. */
  seq: number;
  /** 'local' (this window), 'external' (another window), 'reload' (re-read everything: no exact records). */
  origin: 'local' | 'external' | 'reload';
  changes: readonly EntityChange[];
}

export class ChangeBus extends Emitter<CoreChange> {}

/** Records one change in a mutation: the typed form of `tx.changed`. */
export function changed(tx: WriteApi, entity: Entity, op: ChangeRecord['op'], id: string, extra: { taskId?: string; agentId?: string } = {}): void {
  tx.changed({ entity, op, id, ...extra });
}

/** Whether a change event touches a task (itself, or its updates, messages or runs); a reload touches everything. */
export function touchesTask(c: CoreChange, taskId: string): boolean {
  return c.origin === 'reload' || c.changes.some(x => (x.entity === 'task' && x.id === taskId) || x.taskId === taskId);
}
