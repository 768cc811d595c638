/**
 * The one change feed. Every committed store mutation publishes exactly what it changed (collected by the
 * mutation itself through `tx.changed`, side effects included) with its journal sequence number, in
 * this window and, read back from the `change_log` table after catching up, in every other window.
 * The trees, the status bar, the scheduler and later the API's WebSocket all subscribe to it.
 */
import { Emitter } from './events';
import type { ChangeRecord, ReadApi, WriteApi } from './store/types';

export type Entity = 'provider' | 'agent' | 'task' | 'update' | 'message' | 'run' | 'review' | 'change';

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

/**
 * The mutations after `since`, read back from `change_log` (what a client that was away missed), and the
 * last recorded sequence number. `complete` is false when the log no longer reaches back to `since` (it keeps
 * about the last 10,000 mutations) or `since` is ahead of it (another database): the client must re-read
 * everything. A mutation that recorded nothing has no row; a gap in the numbers is not a loss.
 */
export function changesSince(read: ReadApi, since: number, limit = 20_000): { events: CoreChange[]; lastSeq: number; complete: boolean } {
  const range = read.get<{ lo: number | null; hi: number | null }>('SELECT MIN(seq) AS lo, MAX(seq) AS hi FROM change_log');
  const lo = range?.lo ?? null;
  const hi = range?.hi ?? 0;
  if (since > hi) return { events: [], lastSeq: hi, complete: false };
  if (lo !== null && since < lo - 1) return { events: [], lastSeq: hi, complete: false };
  const rows = read.all<{ seq: number; changes: string }>('SELECT seq, changes FROM change_log WHERE seq > ? ORDER BY seq LIMIT ?', [since, limit]);
  if (rows.length === limit) return { events: [], lastSeq: hi, complete: false };
  const events = rows.map(r => ({ seq: Number(r.seq), origin: 'external' as const, changes: JSON.parse(String(r.changes)) as EntityChange[] }));
  return { events, lastSeq: hi, complete: true };
}

/** The last sequence number in the change log (0 when it is empty). */
export function lastChangeSeq(read: ReadApi): number {
  return Number(read.get<{ hi: number | null }>('SELECT MAX(seq) AS hi FROM change_log')?.hi ?? 0);
}
