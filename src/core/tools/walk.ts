/**
 * A bounded directory walk shared by list_files and search_files. Symlinks are listed, never followed,
 * and every folder is opened through `readDirBelow`, which refuses a folder that became a symlink since
 * its parent was listed (so a swap cannot make the walk list or search a folder outside).
 */
import * as path from 'node:path';
import { lstatSync, statSync, type Stats } from 'node:fs';
import { AppError } from '../errors';
import { readDirBelow } from '../workspace/safeFs';

/** Folders no agent needs to see: dependencies and version-control internals. */
export const SKIPPED_DIRS = new Set(['node_modules', '.git', '.hg', '.svn']);

export interface WalkEntry {
  abs: string;
  kind: 'file' | 'dir' | 'link' | 'other';
  depth: number;
}

export interface WalkOptions {
  recursive: boolean;
  maxDepth?: number;
  signal?: AbortSignal;
  /** The checked root the walk may not leave (default: the folder walked). */
  root?: string;
}

/** Depth-first, sorted, so the listing is stable between calls. */
export async function* walk(dir: string, options: WalkOptions, depth = 0): AsyncGenerator<WalkEntry> {
  if (options.signal?.aborted) throw new AppError('cancelled', 'Cancelled.');
  const root = options.root ?? dir;
  let entries;
  try {
    entries = readDirBelow(root, dir);
  } catch {
    return; // unreadable folder, or one swapped for a link: skip it rather than fail the whole listing
  }
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    if (e.kind === 'dir' && SKIPPED_DIRS.has(e.name)) continue;
    yield { abs, kind: e.kind, depth };
    if (e.kind === 'dir' && options.recursive && depth + 1 < (options.maxDepth ?? 12)) yield* walk(abs, { ...options, root }, depth + 1);
  }
}

/** A NUL byte in the first 8 KB: treat as binary, as git does. */
export function looksBinary(buf: Buffer): boolean {
  return buf.subarray(0, 8192).includes(0);
}

/**
 * stat() that answers undefined for a missing file. Synchronous on purpose: a rejected fs.promises.stat
 * builds an error with an async stack trace, which cost about 1.4 ms per missing file, more than the
 * whole rest of an agent turn.
 */
export function statIfExists(p: string, opts: { lstat?: boolean } = {}): Stats | undefined {
  try {
    return (opts.lstat ? lstatSync : statSync)(p, { throwIfNoEntry: false });
  } catch {
    return undefined;
  }
}
