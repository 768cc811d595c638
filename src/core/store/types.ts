/** The contract between the persistence engine and the repositories/services above it. */
import type { AppError } from '../errors';
import type { Event } from '../events';

export type SqlValue = number | string | Uint8Array | null;
export type Row = Record<string, SqlValue>;

export interface ReadApi {
  all<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): T[];
  get<T extends Row = Row>(sql: string, params?: readonly SqlValue[]): T | undefined;
}

export interface WriteApi extends ReadApi {
  /** Runs one write statement; it is recorded in the journal and replayed verbatim by other windows. */
  run(sql: string, params?: readonly SqlValue[]): { changes: number };
  /**
   * Records what this mutation changed. The records are stored in the same transaction (table
   * `change_log`, so other windows read the very same records after catching up) and published after
   * COMMIT with the mutation's sequence number.
   */
  changed(record: ChangeRecord): void;
}

/** One entity a mutation created, updated or deleted. */
export interface ChangeRecord {
  entity: string;
  op: 'created' | 'updated' | 'deleted';
  id: string;
  taskId?: string;
  agentId?: string;
}

export interface StoreChange {
  /**
   * 'local': this process wrote it; 'external': caught up from another window's journal line;
   * 'reload': state was reloaded wholesale (or written by a version that records no changes): re-read everything.
   */
  origin: 'local' | 'external' | 'reload';
  /** The mutation's sequence number (for 'reload': the highest now applied). */
  seq: number;
  /** What the mutation changed, in the order it changed it (empty for 'reload'). */
  changes: ChangeRecord[];
}

export interface StoreOptions {
  /** Folder that holds `<name>.sqlite`, `<name>.journal`, `<name>.lock`. Created if missing. */
  dir: string;
  /** Base file name, default 'ai2ai'. */
  name?: string;
  /** The sql-wasm.wasm bytes' path (dist/sql-wasm.wasm in the bundle). */
  wasmPath: string;
  /** fdatasync every journal append before acknowledging it. */
  durable?: boolean;
  /** Compact when the journal grows past this many bytes. */
  compactAfterBytes?: number;
  /**
   * Compact after this long without a local change, when the journal holds more than 64 KB of changes, so
   * the next start replays little. Default 60 s; 0 turns it off.
   */
  idleCompactMs?: number;
  /** Watch the journal for other windows' writes and catch up by itself. Default true. */
  watch?: boolean;
  /** A lock not renewed for this long is broken (default 30 s; tests use less). */
  lockStaleMs?: number;
  /** Give up waiting for the lock after this long (default 10 s). */
  lockTimeoutMs?: number;
}

export interface Store {
  readonly read: ReadApi;
  /**
   * One atomic mutation: lock, catch up with other windows, BEGIN, fn, COMMIT, append one journal line,
   * unlock, fire onDidChange. If fn throws, everything is rolled back, nothing is journaled, and the
   * error propagates. fn must be synchronous and deterministic given the state it reads (ids and
   * timestamps are made before, passed in as parameters).
   */
  mutate<T>(fn: (tx: WriteApi) => T): T;
  /** Applies journal lines written by other processes; returns how many. */
  catchUp(): number;
  /** Folds the journal into an atomically written snapshot. */
  compact(): void;
  readonly onDidChange: Event<StoreChange>;
  /** Compacts and releases files and watchers (a halted store compacts nothing and keeps every file). */
  close(): void;
  /**
   * Set when this window stopped writing because the journal holds a line it must not skip (damaged,
   * a gap, a newer format): the error every mutation throws, saying what happened and what to do.
   */
  readonly problem?: AppError;
  /** Files, journal length, last compaction and an integrity check, for "AI2AI: Diagnose". Read-only. */
  diagnose(): StoreDiagnosis;
}

export interface StoreDiagnosis {
  snapshotFile: string;
  snapshotBytes: number;
  journalFile: string;
  journalBytes: number;
  /** Changes in the journal not yet folded into the snapshot. */
  journalChanges: number;
  /** When the snapshot was last written (the last compaction), ms since the epoch. */
  lastCompactionAt: number | null;
  schemaVersion: number;
  /** The last applied change's sequence number. */
  seq: number;
  /** `PRAGMA quick_check` of the database in memory: 'ok' or what it found. */
  integrity: string;
}
