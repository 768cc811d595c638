/**
 * The journal's line format. Every line is written with a single append and checked when read.
 *
 * Format 2 (written by this version): `<format> <checksum> <json>\n`
 *   - `<format>` is `2`; `<checksum>` is the first 16 hex digits of SHA-256 over the bytes `2 <json>`;
 *   - header (first line): {"gen":"<random id>","base":<seq the snapshot had when this journal began>}
 *   - entry:               {"seq":<n>,"stmts":[[sql, params], ...]}
 * Format 1 (older versions): the JSON alone. Still read, once, and compacted into format 2 at open.
 *
 * A later format must keep the `<format> <checksum> ` prefix and the checksum rule, so that this version
 * can tell "written by a newer AI2AI" (checksum valid, format unknown) from damage (checksum wrong).
 * JSON has no bytes, NaN or ±Infinity, so those params are wrapped as {"$b": base64} / {"$n": "Infinity"}.
 */
import { createHash } from 'crypto';
import * as fs from 'fs';
import { AppError } from '../errors';
import { corrupt } from './snapshot';
import type { SqlValue } from './types';

export const JOURNAL_FORMAT = 2;

export interface JournalHeader {
  gen: string;
  base: number;
  /** 1 for a journal written by an older AI2AI (no checksums), 2 for this format. */
  format: 1 | 2;
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

function checksum(format: number, payload: Buffer): string {
  return createHash('sha256').update(`${format} `).update(payload).digest('hex').slice(0, 16);
}

function line(payload: string): string {
  return `${JOURNAL_FORMAT} ${checksum(JOURNAL_FORMAT, Buffer.from(payload))} ${payload}\n`;
}

export function encodeEntry(e: JournalEntry): string {
  return line(JSON.stringify({ seq: e.seq, stmts: e.stmts.map(([sql, params]) => [sql, params.map(encodeValue)]) }));
}

export function encodeHeader(h: { gen: string; base: number }): string {
  return line(JSON.stringify({ gen: h.gen, base: h.base }));
}

/** What one complete line turned out to be. */
export type ParsedLine =
  | { kind: 'ok'; format: 1 | 2; payload: string }
  | { kind: 'newer'; format: number; verified: boolean }
  | { kind: 'damaged'; why: string };

const PREFIX = /^(\d{1,6}) ([0-9a-f]{16}) /;

/** Reads the frame of one line (without its '\n'): format, checksum, payload. */
export function parseLine(bytes: Buffer): ParsedLine {
  if (bytes[0] === 0x7b /* { */) return { kind: 'ok', format: 1, payload: bytes.toString('utf8') };
  const head = PREFIX.exec(bytes.subarray(0, 32).toString('latin1'));
  if (!head) return { kind: 'damaged', why: 'it does not start with a format number and a checksum' };
  const format = Number(head[1]);
  const payload = bytes.subarray(head[0].length);
  const valid = checksum(format, payload) === head[2];
  if (format > JOURNAL_FORMAT) return { kind: 'newer', format, verified: valid };
  if (format !== JOURNAL_FORMAT) return { kind: 'damaged', why: `it names format ${format}, which no AI2AI writes` };
  if (!valid) return { kind: 'damaged', why: 'its checksum does not match its content' };
  return { kind: 'ok', format: JOURNAL_FORMAT, payload: payload.toString('utf8') };
}

/** Throws on anything that is not an entry. */
export function decodeEntry(payload: string): JournalEntry {
  const raw = JSON.parse(payload) as { seq?: unknown; stmts?: unknown };
  if (!Number.isSafeInteger(raw.seq) || !Array.isArray(raw.stmts)) throw new Error('not a journal entry');
  const stmts = raw.stmts.map((s: unknown): Stmt => {
    if (!Array.isArray(s) || typeof s[0] !== 'string' || !Array.isArray(s[1])) throw new Error('bad statement in journal entry');
    return [s[0], (s[1] as unknown[]).map(decodeValue)];
  });
  return { seq: raw.seq as number, stmts };
}

function decodeHeaderPayload(payload: string): { gen: string; base: number } | undefined {
  try {
    const raw = JSON.parse(payload) as { gen?: unknown; base?: unknown };
    if (typeof raw.gen === 'string' && Number.isSafeInteger(raw.base) && (raw.base as number) >= 0) return { gen: raw.gen, base: raw.base as number };
  } catch {
    // fall through
  }
  return undefined;
}

/** A header line of either format, or undefined when it is not one (damaged, or a newer format). */
export function decodeHeader(bytes: Buffer): JournalHeader | undefined {
  const p = parseLine(bytes);
  if (p.kind !== 'ok') return undefined;
  const h = decodeHeaderPayload(p.payload);
  return h && { ...h, format: p.format };
}

/**
 * Splits `buf` into complete lines (without their '\n'). Bytes after the last '\n' are a line still being
 * written or torn by a crash; they are never applied, and `consumed` stops before them. An empty line is
 * returned too (it is damage: no writer makes one).
 */
export function completeLines(buf: Buffer): { lines: Buffer[]; consumed: number } {
  const lines: Buffer[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    if (nl < 0) break;
    lines.push(buf.subarray(start, nl));
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

/**
 * Opens the journal for reading and appending (O_APPEND: a write lands after whatever is there, never over
 * another window's line) and reads its header; undefined if there is no journal.
 */
export function openJournal(file: string, snapshotFile = file): OpenJournal | undefined {
  let fd: number;
  try {
    fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_APPEND);
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
  const first = head.subarray(0, nl);
  j.header = decodeHeader(first);
  if (!j.header) {
    fs.closeSync(fd);
    const p = parseLine(first);
    if (p.kind === 'newer') throw newerJournal(file, 1, p.format, p.verified, 'open');
    throw corrupt(snapshotFile, `the first line of its journal "${file}" is not a journal header (${p.kind === 'damaged' ? p.why : 'unreadable'})`, file);
  }
  return j;
}

/** A line in a format this version does not know: a newer AI2AI wrote it (or, unverified, damage). */
export function newerJournal(file: string, lineNo: number, format: number, verified: boolean, phase: 'open' | 'running'): AppError {
  const what = verified
    ? `line ${lineNo} of its journal "${file}" was written by a newer AI2AI (journal format ${format}; this version reads format ${JOURNAL_FORMAT})`
    : `line ${lineNo} of its journal "${file}" names journal format ${format}, which this version does not know (written by a newer AI2AI, or damaged)`;
  return new AppError(
    'storage_newer_schema',
    `${START[phase]}: ${what}. Update AI2AI or reload this window. Every file was left untouched; nothing was skipped or overwritten.`,
    { file, line: lineNo, format, verified },
  );
}

const START = { open: 'AI2AI could not open its database', running: 'AI2AI stopped saving changes in this window' } as const;

/** A journal line that cannot be applied as it is (damaged, a gap, a repeat, a removed change): said, never skipped. */
export function damagedJournalLine(file: string, dir: string, lineNo: number, why: string, phase: 'open' | 'running'): AppError {
  return new AppError(
    'storage_corrupt',
    `${START[phase]}: line ${lineNo} of its journal "${file}" ${why}. Every file was left untouched and nothing was skipped. ` +
      `To go on: close the other VS Code windows, keep a copy of the folder "${dir}", then remove line ${lineNo} from the journal (its change is lost) and reload; or restore the folder from a backup.`,
    { file, line: lineNo },
  );
}

/** A journal written by an older AI2AI in another window, which cannot read this version's lines. */
export function olderJournal(file: string, lineNo: number, phase: 'open' | 'running'): AppError {
  return new AppError(
    'storage_corrupt',
    `${START[phase]}: ${lineNo === 1 ? 'the journal' : `line ${lineNo} of the journal`} "${file}" was written by an older AI2AI in another VS Code window, which cannot read this version's changes and may drop them. ` +
      'Update AI2AI in every window and reload them. Every file was left untouched.',
    { file, line: lineNo },
  );
}
