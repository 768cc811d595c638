/**
 * Loading sql.js and validating/writing the snapshot file. A snapshot that is not plainly a healthy AI2AI
 * database is refused, never "repaired": sql.js opens a 0-byte buffer as an empty database, and treating
 * that as the user's data would silently start from nothing and later overwrite what might be recoverable.
 */
import * as fs from 'fs';
import * as path from 'path';
import { randomBytes } from 'crypto';
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic } from 'sql.js';
import { AppError } from '../errors';

/** Keyed by wasm path so a bad path is reported even after another path loaded fine (tests, reinstalls). */
const sqlModules = new Map<string, Promise<SqlJsStatic>>();
// The project compiles without the DOM lib, which is where TypeScript declares WebAssembly's functions.
const wasmRuntime = (globalThis as unknown as { WebAssembly: { validate(bytes: Uint8Array): boolean } }).WebAssembly;

/**
 * One SQL module per process: it is 26 MB of wasm memory and ~20 ms to start. We read the wasm ourselves
 * because when sql.js fetches a missing file it rejects AND fires an unhandled `RuntimeError: Aborted`.
 */
export function loadSqlJs(wasmPath: string): Promise<SqlJsStatic> {
  let sqlModule = sqlModules.get(wasmPath);
  if (!sqlModule) {
    sqlModule = (async () => {
      let wasm: Buffer;
      try {
        wasm = await fs.promises.readFile(wasmPath);
      } catch (e) {
        throw new AppError(
          'storage_io',
          `AI2AI could not load its database engine: "${wasmPath}" is missing or unreadable (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}). Reinstall the AI2AI extension.`,
          { wasmPath },
          { cause: e },
        );
      }
      // sql.js instantiates in a floating promise: bad bytes reject it unhandled, and sql.js then keeps
      // that failed init for the life of the process. Validating first (~3 ms) keeps both from happening.
      if (!wasmRuntime.validate(wasm)) {
        throw new AppError(
          'storage_io',
          `AI2AI could not load its database engine: "${wasmPath}" is damaged (${wasm.byteLength} bytes, not valid WebAssembly). Reinstall the AI2AI extension.`,
          { wasmPath },
        );
      }
      try {
        const binary = wasm.buffer.slice(wasm.byteOffset, wasm.byteOffset + wasm.byteLength) as ArrayBuffer;
        return await initSqlJs({ wasmBinary: binary });
      } catch (e) {
        throw new AppError(
          'storage_io',
          `AI2AI could not start its database engine from "${wasmPath}" (${(e as Error).message}). Reinstall the AI2AI extension.`,
          { wasmPath },
          { cause: e },
        );
      }
    })();
    // A failed load must not poison the process: the next open tries again.
    sqlModule.catch(() => sqlModules.delete(wasmPath));
    sqlModules.set(wasmPath, sqlModule);
  }
  return sqlModule;
}

const SQLITE_MAGIC = Buffer.from('SQLite format 3\0', 'latin1');

/** Settings every database needs, fresh or reloaded. MEMORY journal halves autocommit cost in sql.js. */
export function configure(db: Database): void {
  db.exec('PRAGMA foreign_keys=ON; PRAGMA journal_mode=MEMORY;');
  db.exec('CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value)');
}

export function metaNumber(db: Database, key: string): number {
  const r = db.exec('SELECT value FROM meta WHERE key = ?', [key]);
  const v = r[0]?.values[0]?.[0];
  return v === undefined || v === null ? 0 : Number(v);
}

export interface Snapshot {
  db: Database;
  seq: number;
  version: number;
}

export function corrupt(file: string, why: string, journal: string, cause?: unknown): AppError {
  return new AppError(
    'storage_corrupt',
    `AI2AI could not open its database "${file}": ${why}. The file was left untouched. ` +
      `To start fresh, close every VS Code window, move "${file}" and "${journal}" aside (keep them if you want to try recovering them), and reload; or restore them from a backup.`,
    { file, journal },
    cause === undefined ? undefined : { cause },
  );
}

export function newerSchema(file: string, version: number, latest: number): AppError {
  return new AppError(
    'storage_newer_schema',
    `AI2AI's database "${file}" was written by a newer version of AI2AI (schema ${version}; this version knows up to ${latest}). ` +
      `The file was left untouched. Update AI2AI in every VS Code window and reload.`,
    { file, version, latest },
  );
}

/** Validates snapshot bytes and opens them; throws storage_corrupt / storage_newer_schema. */
export function openSnapshot(SQL: SqlJsStatic, bytes: Uint8Array, file: string, journal: string, latest: number): Snapshot {
  if (bytes.byteLength === 0) throw corrupt(file, 'it is empty (0 bytes)', journal);
  if (bytes.byteLength < 100 || !Buffer.from(bytes.buffer, bytes.byteOffset, 16).equals(SQLITE_MAGIC)) {
    throw corrupt(file, 'it is not an SQLite database', journal);
  }
  let db: Database | undefined;
  try {
    db = new SQL.Database(bytes);
    const check = db.exec('PRAGMA quick_check');
    const verdict = check[0]?.values.map(v => String(v[0])) ?? [];
    if (verdict.length !== 1 || verdict[0] !== 'ok') {
      throw corrupt(file, `its integrity check failed (${verdict.slice(0, 3).join('; ') || 'no result'})`, journal);
    }
    const hasMeta = db.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").length > 0;
    if (!hasMeta) throw corrupt(file, 'it is not an AI2AI database (no meta table)', journal);
    configure(db);
    const version = metaNumber(db, 'schema_version');
    if (version > latest) throw newerSchema(file, version, latest);
    return { db, seq: metaNumber(db, 'seq'), version };
  } catch (e) {
    db?.close();
    if (AppError.is(e)) throw e;
    throw corrupt(file, `SQLite cannot read it (${(e as Error).message})`, journal, e);
  }
}

/** Windows refuses renames over a file another process has open for a moment; retry briefly. */
function renameSync(from: string, to: string): void {
  for (let i = 0; ; i++) {
    try {
      fs.renameSync(from, to);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (i >= 20 || (code !== 'EPERM' && code !== 'EACCES' && code !== 'EBUSY')) throw e;
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10);
    }
  }
}

function fsyncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, 'r');
    fs.fsyncSync(fd);
  } catch {
    // Windows cannot open or fsync a directory; its renames are durable through NTFS's own log.
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

export function writeAll(fd: number, data: Uint8Array, position: number): void {
  let done = 0;
  while (done < data.byteLength) {
    done += fs.writeSync(fd, data, done, data.byteLength - done, position + done);
  }
}

/**
 * Temp file, fsync, rename over, fsync the folder: a reader or a crash sees the old file or the new one,
 * never a mix. (Overwriting in place left 0-byte or corrupt files in 8 of 25 SIGKILL trials.)
 */
export function writeFileAtomic(file: string, data: Uint8Array): void {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    const fd = fs.openSync(tmp, 'w');
    try {
      writeAll(fd, data, 0);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    try {
      fs.unlinkSync(tmp);
    } catch {
      // never created
    }
    throw new AppError('storage_io', `AI2AI could not write "${file}": ${(e as Error).message}`, { file }, { cause: e });
  }
  fsyncDir(path.dirname(file));
}

/** Temp files left by a process killed mid-write; only called under the lock, so none is in use. */
export function removeStaleTemps(dir: string, name: string): void {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return;
  }
  for (const n of names) {
    if ((n.startsWith(`${name}.sqlite.tmp-`) || n.startsWith(`${name}.journal.tmp-`)) && n.includes('.tmp-')) {
      try {
        fs.unlinkSync(path.join(dir, n));
      } catch {
        // someone else cleaned it
      }
    }
  }
}
