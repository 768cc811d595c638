/**
 * The journal's line format. One JSON object per line, each line written with a single write:
 *   header (first line): {"gen":"<random id>","base":<seq the snapshot had when this journal began>}
 *   entry:               {"seq":<n>,"stmts":[[sql, params], ...]}
 * JSON has no bytes, NaN or ±Infinity, so those params are wrapped as {"$b": base64} / {"$n": "Infinity"}.
 */
import * as fs from 'fs';
import { AppError } from '../errors';
import { corrupt } from './snapshot';
import type { SqlValue } from './types';

export interface JournalHeader {
  gen: string;
  base: number;
}

export type Stmt = [sql: string, params: SqlValue[]];

export interface JournalEntry {
  seq: number;
  stmts: Stmt[];
}

type Encoded = number | string | null | { $b: string } | { $n: string };

function encodeValue(v: SqlValue): Encoded {
  if (v instanceof Uint8Array) return { $b: Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') };
  if (typeof v === 'number' && !Number.isFinite(v)) return { $n: String(v) };
  return v;
}

function decodeValue(v: unknown): SqlValue {
  if (v === null || typeof v === 'number' || typeof v === 'string') return v;
  if (typeof v === 'object') {
    const o = v as { $b?: unknown; $n?: unknown };
    if (typeof o.$b === 'string') return new Uint8Array(Buffer.from(o.$b, 'base64'));
    if (typeof o.$n === 'string') return Number(o.$n);
  }
  throw new Error(`bad journal parameter ${JSON.stringify(v)}`);
}

export function encodeEntry(e: JournalEntry): string {
  return JSON.stringify({ seq: e.seq, stmts: e.stmts.map(([sql, params]) => [sql, params.map(encodeValue)]) }) + '\n';
}

export function encodeHeader(h: JournalHeader): string {
  return JSON.stringify({ gen: h.gen, base: h.base }) + '\n';
}

/** Throws on anything that is not an entry; callers log and skip. */
export function decodeEntry(line: string): JournalEntry {
  const raw = JSON.parse(line) as { seq?: unknown; stmts?: unknown };
  if (!Number.isSafeInteger(raw.seq) || !Array.isArray(raw.stmts)) throw new Error('not a journal entry');
  const stmts = raw.stmts.map((s: unknown): Stmt => {
    if (!Array.isArray(s) || typeof s[0] !== 'string' || !Array.isArray(s[1])) throw new Error('bad statement in journal entry');
    return [s[0], (s[1] as unknown[]).map(decodeValue)];
  });
  return { seq: raw.seq as number, stmts };
}

export function decodeHeader(line: string): JournalHeader | undefined {
  try {
    const raw = JSON.parse(line) as { gen?: unknown; base?: unknown };
    if (typeof raw.gen === 'string' && Number.isSafeInteger(raw.base) && (raw.base as number) >= 0) {
      return { gen: raw.gen, base: raw.base as number };
    }
  } catch {
    // fall through
  }
  return undefined;
}

/**
 * Splits `buf` into complete lines. Bytes after the last '\n' are a line still being written or torn by
 * a crash; they are never applied, and `consumed` stops before them.
 */
export function completeLines(buf: Buffer): { lines: string[]; consumed: number } {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    if (nl > start) lines.push(buf.toString('utf8', start, nl));
    start = nl + 1;
  }
  return { lines, consumed: start };
}

export interface OpenJournal {
  fd: number;
  ino: number;
  dev: number;
  size: number;
  /** Missing when the file is empty or its first line is incomplete: it holds no changes. */
  header?: JournalHeader;
  headerLen: number;
}

/** Opens the journal read-write and reads its header; undefined if there is none. */
export function openJournal(file: string): OpenJournal | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, 'r+');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new AppError('storage_io', `AI2AI could not open its journal "${file}": ${(e as Error).message}`, { file }, { cause: e });
  }
  const st = fs.fstatSync(fd);
  const head = Buffer.alloc(Math.min(st.size, 4096));
  const n = head.length ? fs.readSync(fd, head, 0, head.length, 0) : 0;
  const nl = head.subarray(0, n).indexOf(0x0a);
  const j: OpenJournal = { fd, ino: st.ino, dev: st.dev, size: st.size, headerLen: nl + 1 };
  if (nl < 0) return j;
  j.header = decodeHeader(head.toString('utf8', 0, nl));
  if (!j.header) {
    fs.closeSync(fd);
    throw corrupt(file, 'its first line is not a journal header', file);
  }
  return j;
}
