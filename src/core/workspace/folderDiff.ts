/**
 * What a run changed in an agent's folder: a snapshot of the folder when the run is claimed, compared with
 * the folder when it completes, as a unified diff (the `diff` package, jsdiff) plus the list of files and
 * their contents before and after, so a reviewer agent reads the diff and a person opens each file in VS
 * Code's diff view. Bounded: files over 256 KB or binary are named, not diffed; at most 2,000 files.
 * Only regular files are read (symlinks, FIFOs and devices are skipped).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { createTwoFilesPatch } from 'diff';
import { looksBinary, walk } from '../tools/walk';

export const DIFF_LIMITS = { maxFiles: 2000, maxFileBytes: 256 * 1024, maxPatchChars: 400_000 };

/** Relative path (forward slashes) → text content, or a marker for a binary or large file. */
export type FolderSnapshot = Record<string, string>;

/**
 * Size, modification time and inode per path, and when the snapshot began, so a second snapshot reads only
 * the files that changed. As git does with its index ("racy git"), a file modified less than a second before
 * the earlier snapshot began is read again anyway: file systems keep times in coarse ticks, and a same-size
 * rewrite within one tick would otherwise look unchanged.
 */
const stamps = new WeakMap<FolderSnapshot, { at: number; files: Map<string, { stamp: string; mtimeMs: number }> }>();
const RACY_MS = 1000;

const BIG = (size: number) => `\u0000(binary or large file, ${size} bytes)`;

export async function snapshotFolder(dir: string, signal?: AbortSignal, previous?: FolderSnapshot): Promise<FolderSnapshot> {
  const out: FolderSnapshot = {};
  const seen = new Map<string, { stamp: string; mtimeMs: number }>();
  stamps.set(out, { at: Date.now(), files: seen });
  const known = previous ? stamps.get(previous) : undefined;
  let n = 0;
  for await (const e of walk(dir, { recursive: true, maxDepth: 12, signal })) {
    if (e.kind !== 'file') continue;
    if (++n > DIFF_LIMITS.maxFiles) break;
    const rel = path.relative(dir, e.abs).split(path.sep).join('/');
    let fd: number | undefined;
    try {
      fd = fs.openSync(e.abs, fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0));
      const st = fs.fstatSync(fd);
      if (!st.isFile()) continue;
      const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
      seen.set(rel, { stamp, mtimeMs: st.mtimeMs });
      const was = known?.files.get(rel);
      if (was?.stamp === stamp && was.mtimeMs < known!.at - RACY_MS && previous![rel] !== undefined) {
        out[rel] = previous![rel]; // unchanged since the earlier snapshot: no need to read it again
        continue;
      }
      if (st.size > DIFF_LIMITS.maxFileBytes) {
        out[rel] = BIG(st.size);
        continue;
      }
      const buf = Buffer.alloc(st.size);
      let got = 0;
      while (got < buf.length) {
        const r = fs.readSync(fd, buf, got, buf.length - got, got);
        if (r === 0) break;
        got += r;
      }
      out[rel] = looksBinary(buf) ? BIG(st.size) : buf.subarray(0, got).toString('utf8');
    } catch {
      // vanished or unreadable meanwhile: leave it out
    } finally {
      if (fd !== undefined) fs.closeSync(fd);
    }
  }
  return out;
}

export interface ChangedFile {
  path: string;
  status: 'added' | 'modified' | 'deleted';
}

export interface FolderDiff {
  files: ChangedFile[];
  /** Unified diff of every text change, cut at DIFF_LIMITS.maxPatchChars. */
  patch: string;
  /** Contents of the changed files before and after ('' when absent), for a side-by-side view. */
  before: Record<string, string>;
  after: Record<string, string>;
}

export function diffSnapshots(before: FolderSnapshot, after: FolderSnapshot): FolderDiff {
  const paths = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  const files: ChangedFile[] = [];
  const parts: string[] = [];
  const b: Record<string, string> = {};
  const a: Record<string, string> = {};
  let size = 0;
  for (const p of paths) {
    const x = before[p];
    const y = after[p];
    if (x === y) continue;
    const status = x === undefined ? 'added' : y === undefined ? 'deleted' : 'modified';
    files.push({ path: p, status });
    b[p] = x ?? '';
    a[p] = y ?? '';
    if (size > DIFF_LIMITS.maxPatchChars) continue;
    const part = (x ?? '').startsWith('\u0000') || (y ?? '').startsWith('\u0000')
      ? `diff ${p}: binary or large file ${status}\n`
      : createTwoFilesPatch(x === undefined ? '/dev/null' : `a/${p}`, y === undefined ? '/dev/null' : `b/${p}`, x ?? '', y ?? '', '', '', { context: 3 }).replace(/^=+\n/, '');
    size += part.length;
    parts.push(size > DIFF_LIMITS.maxPatchChars ? `… (the diff goes on; ${paths.length} files in all)\n` : part);
  }
  return { files, patch: parts.join(''), before: b, after: a };
}
