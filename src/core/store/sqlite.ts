/**
 * The persistence engine: sql.js in memory, made durable and shared between VS Code windows by an
 * append-only journal of the SQL each mutation ran, under a cross-process lock.
 *
 * Why this shape (numbers in the persistence facts): writing the whole database per change costs
 * 60 ms at 50 MB and two windows overwrite each other's snapshots; appending one journal line costs
 * ~0.1 ms whatever the size, and replaying other windows' lines in order gives every window the same
 * state. The snapshot is only rewritten at compaction, atomically.
 *
 * Files in `dir`: `<name>.sqlite` (snapshot; meta.seq is the last sequence number folded into it),
 * `<name>.journal` (header line {gen, base}, then one line per mutation {seq, stmts}, each with a
 * checksum: journal.ts), `<name>.lock`.
 *
 * Every read or write of the journal happens under the lock, so a reader never meets a half-finished
 * compaction and a line without its '\n' is always a crashed writer's torn tail, safe to drop. Any other
 * line that is not exactly right (a checksum that fails, a gap or repeat in sequence numbers, a format
 * this version does not know, a change that does not apply) is never skipped: the window stops writing
 * (`halted`), keeps every file as it is, skips compaction, and every mutation says what happened and
 * what to do.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import type { Database, SqlJsStatic } from 'sql.js';
import { AppError } from '../errors';
import { Emitter, type Disposable } from '../events';
import { nullLogger, type Logger } from '../ports';
import { LATEST_SCHEMA_VERSION, MIGRATIONS, type Migration } from './migrations';
import type { ChangeRecord, ReadApi, Row, SqlValue, Store, StoreChange, StoreDiagnosis, StoreOptions, WriteApi } from './types';
import { FileLock } from './lock';
import { completeLines, decodeEntry, encodeEntry, encodeHeader, damagedJournalLine, newerJournal, olderJournal, openJournal, parseLine, type OpenJournal, type Stmt } from './journal';
import { StatementCache } from './statements';
import { watchFile } from './watch';
import { configure, corrupt, loadSqlJs, newerSchema, openSnapshot, removeStaleTemps, writeFileAtomic } from './snapshot';

const DEFAULT_COMPACT_AFTER = 4 * 1024 * 1024;
const WATCH_DEBOUNCE_MS = 25;
/** change_log keeps the records of about the last CHANGE_LOG_KEEP mutations. */
const CHANGE_LOG_KEEP = 10_000;
const CHANGE_LOG_PRUNE_EVERY = 1000;

/**
 * Opens the store (loading sql.js once per process). `migrations` is only for tests; the app always
 * uses the released list.
 */
export async function openStore(opts: StoreOptions, logger: Logger = nullLogger, migrations: readonly Migration[] = MIGRATIONS): Promise<Store> {
  const SQL = await loadSqlJs(opts.wasmPath);
  const store = new SqliteStore(SQL, opts, logger);
  store.open(migrations);
  return store;
}

class SqliteStore implements Store {
  private db!: Database;
  private readonly file: string;
  private readonly journalPath: string;
  private readonly journalName: string;
  private readonly lock: FileLock;
  private readonly compactAfter: number;
  private readonly name: string;
  private latest = LATEST_SCHEMA_VERSION;
  private readonly emitter = new Emitter<StoreChange>();
  private readonly stmts = new StatementCache(() => this.db);

  /** Highest sequence number reflected in `db`. */
  private applied = 0;
  private jfd: number | undefined;
  private jino = -1;
  private jdev = -1;
  /** End of the last complete journal line consumed; appends go here. */
  private offset = 0;
  private headerLen = 0;
  /** Journal size last seen; above `offset` means a torn tail. */
  private fileSize = 0;
  private busy = false;
  private closed = false;
  /** The last sequence number applied from another window whose line carried no change records. */
  private lastUnrecorded = 0;
  private watcher: Disposable | undefined;
  /** Format of the journal being read (1: an older AI2AI's, read once and compacted at open). */
  private journalFormat: 1 | 2 = 2;
  /** Complete lines of the current journal consumed so far, header included (for messages). */
  private lineNo = 0;
  /** Highest sequence number seen in the current journal: lines must rise strictly. */
  private lastSeq = 0;
  /** Set when the journal holds something this window must not skip: it then writes nothing more. */
  private halted: AppError | undefined;
  /** open() finished (errors then say "stopped saving" rather than "could not open"). */
  private opened = false;

  readonly onDidChange = this.emitter.event;
  get problem(): AppError | undefined {
    return this.halted;
  }
  readonly read: ReadApi = {
    all: <T extends Row = Row>(sql: string, params?: readonly SqlValue[]) => this.all<T>(sql, params),
    get: <T extends Row = Row>(sql: string, params?: readonly SqlValue[]): T | undefined => this.all<T>(sql, params, true)[0],
  };

  constructor(
    private readonly SQL: SqlJsStatic,
    private readonly opts: StoreOptions,
    private readonly logger: Logger,
  ) {
    const name = (this.name = opts.name ?? 'ai2ai');
    this.file = path.join(opts.dir, `${name}.sqlite`);
    this.journalName = `${name}.journal`;
    this.journalPath = path.join(opts.dir, this.journalName);
    this.lock = new FileLock(path.join(opts.dir, `${name}.lock`), logger, { staleMs: opts.lockStaleMs, timeoutMs: opts.lockTimeoutMs });
    this.compactAfter = opts.compactAfterBytes ?? DEFAULT_COMPACT_AFTER;
  }

  // ---------------------------------------------------------------- open

  open(migrations: readonly Migration[]): void {
    migrations.forEach((m, i) => {
      if (i > 0 && m.version <= migrations[i - 1].version) throw new AppError('internal', `Migrations out of order at version ${m.version}.`);
    });
    const latest = (this.latest = migrations.length ? migrations[migrations.length - 1].version : 0);
    try {
      fs.mkdirSync(this.opts.dir, { recursive: true });
    } catch (e) {
      throw new AppError('storage_io', `AI2AI could not create its storage folder "${this.opts.dir}": ${(e as Error).message}`, { dir: this.opts.dir }, { cause: e });
    }
    // Under the lock, so two windows opening at once migrate once and nobody compacts under our feet.
    this.lock.acquire();
    try {
      let snapshotExisted = true;
      let bytes: Buffer | undefined;
      try {
        bytes = fs.readFileSync(this.file);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') {
          throw new AppError('storage_io', `AI2AI could not read "${this.file}": ${(e as Error).message}`, { file: this.file }, { cause: e });
        }
        snapshotExisted = false;
      }
      if (bytes) {
        const snap = openSnapshot(this.SQL, bytes, this.file, this.journalPath, latest);
        this.db = snap.db;
        this.applied = snap.seq;
      } else {
        this.db = new this.SQL.Database();
        configure(this.db);
      }

      // Nothing below writes a file until every check has passed: a refused store leaves all bytes as found.
      const j = this.openJournalFile();
      const needJournal = !j?.header;
      if (j?.header) {
        if (j.header.base > this.applied) {
          this.closeFd(j.fd);
          throw corrupt(
            this.file,
            snapshotExisted
              ? `it holds changes up to #${this.applied} but the journal "${this.journalPath}" continues from #${j.header.base}, so changes in between are missing`
              : `it is missing, but the journal "${this.journalPath}" continues from change #${j.header.base}`,
            this.journalPath,
          );
        }
        this.adopt(j);
        this.readNewLines();
      } else if (j) {
        this.closeFd(j.fd); // empty or torn header: holds no changes, is replaced below
      }
      const version = this.schemaVersion();
      if (version > latest) throw newerSchema(this.file, version, latest);

      removeStaleTemps(this.opts.dir, this.name);
      if (needJournal) this.startJournal();
      // An older AI2AI's journal (format 1, no checksums): read once, now folded into the snapshot and
      // replaced by a format-2 journal before anything is written.
      if (this.journalFormat === 1) {
        this.compactLocked();
        this.logger.info(`storage: moved ${this.journalPath} to journal format 2 (checksummed lines)`);
      }
      let migrated = false;
      for (const m of migrations) {
        if (m.version <= version) continue;
        try {
          this.runLocked(tx => {
            for (const s of m.statements) tx.run(s);
            tx.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)", [m.version]);
          });
        } catch (e) {
          throw new AppError('internal', `AI2AI could not upgrade its database to schema ${m.version} (${m.description}): ${(e as Error).message}`, { file: this.file }, { cause: e });
        }
        this.logger.info(`storage: migrated ${this.file} to schema ${m.version} (${m.description})`);
        migrated = true;
      }
      if (migrated || !snapshotExisted) this.compactLocked();
    } catch (e) {
      this.dispose();
      if (AppError.is(e)) throw e;
      throw new AppError('storage_io', `AI2AI could not open its database in "${this.opts.dir}": ${(e as Error).message}.`, { dir: this.opts.dir }, { cause: e });
    } finally {
      this.lock.release();
    }
    this.opened = true;
    if (this.opts.watch !== false) this.startWatching();
    this.logger.debug(`storage: opened ${this.file} at change #${this.applied}`);
  }

  // ---------------------------------------------------------------- public API

  mutate<T>(fn: (tx: WriteApi) => T): T {
    return this.locked('mutate', events => {
      const { result, seq, changes } = this.runLocked(fn);
      if (seq !== undefined) events.push({ origin: 'local', seq, changes });
      if (this.offset > this.compactAfter) this.tryCompactLocked();
      if (seq !== undefined) this.scheduleIdleCompaction();
      return result;
    });
  }

  catchUp(): number {
    if (this.closed || this.busy || this.halted) return 0;
    // Without the lock: the journal is only replaced (new inode, and we hold the old one open so its
    // number cannot be reused) or appended, so same inode and same size means nothing new.
    try {
      const st = fs.statSync(this.journalPath);
      if (st.ino === this.jino && st.dev === this.jdev && st.size === this.offset) return 0;
    } catch {
      // missing journal: let the locked path deal with it
    }
    const before = this.applied;
    try {
      this.locked('catchUp', () => undefined);
    } catch (e) {
      // Halted on a line it must not skip: said in the log; every later mutation throws it.
      if (e === this.halted) return Math.max(0, this.applied - before);
      throw e;
    }
    return Math.max(0, this.applied - before);
  }

  compact(): void {
    this.locked('compact', () => this.compactLocked());
  }

  diagnose(): StoreDiagnosis {
    const stat = (f: string) => {
      try {
        return fs.statSync(f);
      } catch {
        return undefined;
      }
    };
    const snap = stat(this.file);
    let journalChanges = 0;
    try {
      const bytes = fs.readFileSync(this.journalPath);
      for (let i = this.headerLen; i < bytes.length; i++) if (bytes[i] === 10) journalChanges++;
    } catch {
      // no journal: nothing pending
    }
    const r = this.db.exec('PRAGMA quick_check');
    const integrity = r[0]?.values.map(v => String(v[0])).join('; ') ?? 'no answer';
    const version = this.db.exec("SELECT value FROM meta WHERE key = 'schema_version'")[0]?.values[0]?.[0];
    return {
      snapshotFile: this.file,
      snapshotBytes: snap?.size ?? 0,
      journalFile: this.journalPath,
      journalBytes: stat(this.journalPath)?.size ?? 0,
      journalChanges,
      lastCompactionAt: snap ? Math.round(snap.mtimeMs) : null,
      schemaVersion: Number(version ?? 0),
      seq: this.applied,
      integrity,
    };
  }

  /** Takes the lock and catches up, runs `fn`, releases the lock, then fires the changes collected. */
  private locked<T>(what: string, fn: (events: StoreChange[]) => T): T {
    if (this.halted && !this.closed) throw this.halted;
    this.enter(what);
    const events: StoreChange[] = [];
    try {
      this.lock.acquire();
      try {
        this.syncLocked(events);
        return fn(events);
      } finally {
        this.lock.release();
      }
    } finally {
      this.busy = false;
      this.fire(events);
    }
  }

  /** Journal bytes (beyond the header) worth an idle compaction. */
  private static readonly IDLE_COMPACT_MIN_BYTES = 64 * 1024;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;

  private scheduleIdleCompaction(): void {
    const ms = this.opts.idleCompactMs ?? 60_000;
    if (ms <= 0) return;
    if (this.idleTimer) {
      this.idleTimer.refresh();
      return;
    }
    this.idleTimer = setTimeout(() => {
      this.idleTimer = undefined;
      if (this.closed || this.busy || this.halted || this.offset - this.headerLen < SqliteStore.IDLE_COMPACT_MIN_BYTES) return;
      try {
        this.compact();
      } catch (e) {
        this.logger.warn('storage: idle compaction failed; the journal keeps the changes', e);
      }
    }, ms);
    this.idleTimer.unref?.();
  }

  close(): void {
    if (this.closed) return;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.stopWatching();
    // A halted window keeps every file exactly as it is: no compaction.
    if (!this.busy && !this.halted) {
      try {
        this.lock.acquire();
        try {
          this.syncLocked([]);
          if (this.offset > this.headerLen) this.compactLocked();
        } finally {
          this.lock.release();
        }
      } catch (e) {
        // Everything is in the journal already; the next open replays it.
        this.logger.warn(`storage: compaction on close failed, the journal keeps the changes`, e);
      }
    }
    this.closed = true;
    this.dispose();
    this.emitter.dispose();
  }

  // ---------------------------------------------------------------- mutation internals

  private enter(what: string): void {
    if (this.closed) throw new AppError('internal', `Store.${what}() called after close().`);
    if (this.busy) throw new AppError('internal', `Store.${what}() called from inside a mutation; mutations cannot nest.`);
    this.busy = true;
  }

  /** Lock held and journal caught up. BEGIN, fn, append the line, COMMIT: the line and the rows stand or fall together. */
  private runLocked<T>(fn: (tx: WriteApi) => T): { result: T; seq?: number; changes: ChangeRecord[] } {
    const recorded: Stmt[] = [];
    const changes: ChangeRecord[] = [];
    let open = true;
    const tx: WriteApi = {
      all: this.read.all,
      get: this.read.get,
      run: (sql, params = []) => {
        if (!open) throw new AppError('internal', 'A transaction object was used after its mutation ended.');
        const n = this.exec(sql, params);
        recorded.push([sql, [...params]]);
        return { changes: n };
      },
      changed: record => {
        if (!open) throw new AppError('internal', 'A transaction object was used after its mutation ended.');
        changes.push({ ...record });
      },
    };
    this.db.exec('BEGIN');
    let result: T;
    try {
      result = fn(tx);
      if (result && typeof (result as { then?: unknown }).then === 'function') {
        throw new AppError('internal', 'Store.mutate() needs a synchronous function; awaiting inside a transaction would hold the lock across other windows.');
      }
      if (changes.length) {
        const seq = this.applied + 1;
        tx.run('INSERT INTO change_log (seq, changes) VALUES (?, ?)', [seq, JSON.stringify(changes)]);
        // Keep the log bounded: it serves catch-up and API clients resuming, not history.
        if (seq % CHANGE_LOG_PRUNE_EVERY === 0) tx.run('DELETE FROM change_log WHERE seq <= ?', [seq - CHANGE_LOG_KEEP]);
      }
    } catch (e) {
      this.rollback();
      throw e;
    } finally {
      open = false;
    }
    if (recorded.length === 0) {
      this.db.exec('COMMIT');
      return { result, changes };
    }
    const seq = this.applied + 1;
    const line = Buffer.from(encodeEntry({ seq, stmts: recorded }));
    try {
      this.append(line);
    } catch (e) {
      this.rollback();
      throw e;
    }
    try {
      this.db.exec('COMMIT');
    } catch (e) {
      this.truncate(this.offset);
      this.rollback();
      throw e;
    }
    this.offset += line.byteLength;
    this.fileSize = this.offset;
    this.applied = seq;
    return { result, seq, changes };
  }

  /** Fencing: a window that stalled past the lock's stale time may wake believing it still holds it. */
  private fence(): void {
    if (this.lock.verify()) return;
    throw new AppError(
      'storage_locked',
      `AI2AI lost its lock on "${this.lock.path}" while this window was stalled (a debugger, a suspended machine) and another window went on writing. This change was not saved; nothing else was lost. Try it again.`,
      { path: this.lock.path },
    );
  }

  private append(line: Buffer): void {
    const fd = this.jfd!;
    this.fence();
    if (this.fileSize > this.offset) {
      this.logger.warn(`storage: dropping ${this.fileSize - this.offset} bytes of a torn journal line (a window crashed while writing it)`);
      this.truncate(this.offset);
    }
    let size: number;
    try {
      // O_APPEND: even if a stalled window and this one both believed they held the lock, neither
      // line lands on the other; the repeated sequence number then stops both, with every line kept.
      let done = 0;
      while (done < line.byteLength) done += fs.writeSync(fd, line, done, line.byteLength - done, null);
      if (this.opts.durable) fs.fdatasyncSync(fd);
      size = fs.fstatSync(fd).size;
    } catch (e) {
      this.truncate(this.offset);
      throw new AppError('storage_io', `AI2AI could not write its journal "${this.journalPath}": ${(e as Error).message}. The change was not saved.`, { file: this.journalPath }, { cause: e });
    }
    if (size !== this.offset + line.byteLength) {
      throw this.halt(this.journalError(this.lineNo + 1, 'was written while another window wrote too (one of them had lost its lock)'));
    }
  }

  private truncate(at: number): void {
    try {
      fs.ftruncateSync(this.jfd!, at);
      this.fileSize = at;
    } catch (e) {
      this.logger.error(`storage: could not truncate ${this.journalPath}`, e);
    }
  }

  private rollback(): void {
    try {
      this.db.exec('ROLLBACK');
    } catch {
      // SQLite already rolled back (some errors end the transaction themselves)
    }
  }

  // ---------------------------------------------------------------- journal reading

  /** Lock held. Brings `db` up to the journal on disk, following compactions by other windows. */
  private syncLocked(events: StoreChange[]): void {
    const before = this.applied;
    let reloaded = false;
    let st: fs.Stats | undefined;
    try {
      st = fs.statSync(this.journalPath);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    }
    if (!st) {
      this.logger.warn(`storage: ${this.journalPath} disappeared; starting a new one at change #${this.applied}`);
      this.startJournal();
      return;
    }
    if (st.ino !== this.jino || st.dev !== this.jdev) {
      const j = this.openJournalFile();
      if (!j?.header) {
        if (j) this.closeFd(j.fd);
        this.logger.warn(`storage: ${this.journalPath} has no header; starting a new one at change #${this.applied}`);
        this.startJournal();
        return;
      }
      if (j.header.format === 1) {
        this.closeFd(j.fd);
        throw this.halt(this.olderWindow(1));
      }
      if (j.header.base > this.applied) {
        // Another window compacted past what we have read: its snapshot holds what we missed.
        try {
          this.reloadSnapshot(j.header.base);
        } catch (e) {
          this.closeFd(j.fd);
          throw e;
        }
        reloaded = true;
      }
      this.adopt(j);
    } else if (st.size < this.offset) {
      // Only torn tails are ever truncated, never a complete line: something removed changes.
      throw this.halt(this.journalError(this.lineNo, `is gone: the journal shrank from ${this.offset} to ${st.size} bytes, so changes were removed from it`));
    }
    this.readNewLines(st.ino === this.jino && st.dev === this.jdev ? st.size : undefined);
    if (reloaded) events.push({ origin: 'reload', seq: this.applied, changes: [] });
    else if (this.applied > before) events.push(...this.changesSince(before));
  }

  /**
   * The change records of the mutations after `before`, one event per mutation, read from `change_log`
   * (written in the same transactions). Lines from a version that records no changes become a 'reload'.
   */
  private changesSince(before: number): StoreChange[] {
    const out: StoreChange[] = [];
    try {
      for (const r of this.all<{ seq: SqlValue; changes: SqlValue }>('SELECT seq, changes FROM change_log WHERE seq > ? ORDER BY seq', [before])) {
        out.push({ origin: 'external', seq: Number(r.seq), changes: JSON.parse(String(r.changes)) as ChangeRecord[] });
      }
    } catch {
      return [{ origin: 'reload', seq: this.applied, changes: [] }];
    }
    // A line without records (an older version's, or a mutation that named nothing): re-read everything.
    if (this.lastUnrecorded > before) out.push({ origin: 'reload', seq: this.applied, changes: [] });
    return out;
  }

  /** `knownSize`: a stat of this very inode taken under the lock, which saves an fstat per mutation. */
  private readNewLines(knownSize?: number): void {
    const fd = this.jfd!;
    const size = knownSize ?? fs.fstatSync(fd).size;
    this.fileSize = size;
    if (size <= this.offset) return;
    const buf = Buffer.allocUnsafe(size - this.offset);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, this.offset + got);
      if (n === 0) break;
      got += n;
    }
    const { lines } = completeLines(got === buf.length ? buf : buf.subarray(0, got));
    // One line at a time: a line that cannot be applied stops here, with `offset` before it.
    for (const line of lines) {
      this.applyLine(line, this.lineNo + 1);
      this.lineNo++;
      this.offset += line.byteLength + 1;
    }
  }

  /** Applies one complete journal line, or halts the window: nothing is ever skipped. */
  private applyLine(bytes: Buffer, lineNo: number): void {
    const p = parseLine(bytes);
    if (p.kind === 'newer') throw this.halt(newerJournal(this.journalPath, lineNo, p.format, p.verified, this.opened ? 'running' : 'open'));
    if (p.kind === 'damaged') throw this.halt(this.journalError(lineNo, `is damaged: ${p.why}`));
    if (p.format !== this.journalFormat) throw this.halt(this.olderWindow(lineNo));
    let entry;
    try {
      entry = decodeEntry(p.payload);
    } catch (e) {
      throw this.halt(this.journalError(lineNo, `is not a readable change (${(e as Error).message})`));
    }
    if (entry.seq <= this.lastSeq) {
      throw this.halt(this.journalError(lineNo, `repeats change #${entry.seq} after #${this.lastSeq} (two windows wrote at once: one of them had lost its lock)`));
    }
    this.lastSeq = entry.seq;
    if (entry.seq <= this.applied) return; // already in the snapshot (crash between snapshot and journal swap)
    if (entry.seq !== this.applied + 1) {
      throw this.halt(this.journalError(lineNo, `jumps from change #${this.applied} to #${entry.seq}: the changes in between are missing`));
    }
    if (!entry.stmts.some(([sql]) => sql.startsWith('INSERT INTO change_log'))) this.lastUnrecorded = entry.seq;
    this.db.exec('BEGIN');
    try {
      for (const [sql, params] of entry.stmts) this.exec(sql, params);
      this.db.exec('COMMIT');
    } catch (e) {
      this.rollback();
      throw this.halt(
        this.journalError(lineNo, `holds change #${entry.seq}, which could not be applied here (${(e as Error).message}); a newer AI2AI may have written it (then update AI2AI or reload this window)`),
      );
    }
    this.applied = entry.seq;
  }

  /** Stops this window's writes for good (until it is reloaded) and says so once in the log. */
  private halt(e: AppError): AppError {
    if (!this.halted) {
      this.halted = e;
      this.logger.error(`storage: ${e.message}`);
    }
    return this.halted;
  }

  private journalError(lineNo: number, why: string): AppError {
    return damagedJournalLine(this.journalPath, this.opts.dir, lineNo, why, this.opened ? 'running' : 'open');
  }

  private olderWindow(lineNo: number): AppError {
    return olderJournal(this.journalPath, lineNo, this.opened ? 'running' : 'open');
  }

  private reloadSnapshot(base: number): void {
    let bytes: Buffer;
    try {
      bytes = fs.readFileSync(this.file);
    } catch (e) {
      throw corrupt(this.file, `it could not be read while following another window's compaction (${(e as Error).message})`, this.journalPath, e);
    }
    const snap = openSnapshot(this.SQL, bytes, this.file, this.journalPath, this.latest);
    if (snap.seq < base) {
      snap.db.close();
      throw corrupt(this.file, `it holds changes up to #${snap.seq} but the journal continues from #${base}`, this.journalPath);
    }
    this.stmts.clear();
    this.db.close();
    this.db = snap.db;
    this.applied = snap.seq;
    this.logger.info(`storage: reloaded ${this.file} at change #${snap.seq} after another window compacted`);
  }

  private openJournalFile(): OpenJournal | undefined {
    return openJournal(this.journalPath, this.file);
  }

  private adopt(j: OpenJournal): void {
    if (this.jfd !== undefined && this.jfd !== j.fd) this.closeFd(this.jfd);
    this.jfd = j.fd;
    this.jino = j.ino;
    this.jdev = j.dev;
    this.headerLen = j.headerLen;
    this.offset = j.headerLen;
    this.fileSize = j.size;
    this.journalFormat = j.header?.format ?? 2;
    this.lineNo = 1;
    this.lastSeq = j.header?.base ?? 0;
  }

  // ---------------------------------------------------------------- compaction

  private tryCompactLocked(): void {
    try {
      this.compactLocked();
    } catch (e) {
      // The mutation is already safe in the journal; compaction will be retried after the next one.
      this.logger.error(`storage: compaction failed, will retry`, e);
    }
  }

  /**
   * Lock held, caught up. Snapshot first, then a new journal generation: a crash between the two leaves
   * the old journal, whose lines up to the snapshot's seq are skipped on load.
   */
  private compactLocked(): void {
    const started = Date.now();
    this.fence();
    this.db.run("INSERT OR REPLACE INTO meta (key, value) VALUES ('seq', ?)", [this.applied]);
    writeFileAtomic(this.file, this.db.export());
    this.startJournal();
    this.logger.debug(`storage: compacted ${this.file} at change #${this.applied} in ${Date.now() - started} ms`);
  }

  /** Lock held. Replaces the journal (never truncates it in place, so a reader holding it stays consistent). */
  private startJournal(): void {
    const gen = randomBytes(8).toString('hex');
    writeFileAtomic(this.journalPath, Buffer.from(encodeHeader({ gen, base: this.applied })));
    const j = this.openJournalFile();
    if (!j?.header || j.header.gen !== gen) throw new AppError('storage_io', `AI2AI's new journal "${this.journalPath}" was replaced while it was being created.`);
    this.adopt(j);
  }

  // ---------------------------------------------------------------- SQL, events, teardown

  private exec(sql: string, params: readonly SqlValue[]): number {
    return this.stmts.run(sql, params);
  }

  private all<T extends Row>(sql: string, params: readonly SqlValue[] = [], first = false): T[] {
    if (this.closed) throw new AppError('internal', 'Store read after close().');
    return this.stmts.all<T>(sql, params, first);
  }

  private schemaVersion(): number {
    const row = this.all<{ value: SqlValue }>("SELECT value FROM meta WHERE key = 'schema_version'", [], true)[0];
    return row ? Number(row.value) : 0;
  }

  private startWatching(): void {
    this.watcher = watchFile(this.opts.dir, this.journalName, WATCH_DEBOUNCE_MS, () => this.catchUp(), this.logger);
  }

  private stopWatching(): void {
    this.watcher?.dispose();
    this.watcher = undefined;
  }

  private fire(events: StoreChange[]): void {
    for (const e of events) this.emitter.fire(e, err => this.logger.error('storage: an onDidChange listener failed', err));
  }

  private closeFd(fd: number): void {
    try {
      fs.closeSync(fd);
    } catch {
      // already closed
    }
  }

  private dispose(): void {
    this.stopWatching();
    this.lock.dispose();
    if (this.jfd !== undefined) this.closeFd(this.jfd);
    this.jfd = undefined;
    this.jino = this.jdev = -1;
    if (this.db) {
      this.stmts.clear();
      this.db.close();
    }
  }
}
