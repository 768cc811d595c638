/** A bounded directory walk shared by list_files and search_files. Symlinks are listed, never followed. */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { lstatSync, statSync, type Stats } from 'node:fs';
import { AppError } from '../errors';

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
}

/** Depth-first, sorted, so the listing is stable between calls. */
export async function* walk(dir: string, options: WalkOptions, depth = 0): AsyncGenerator<WalkEntry> {
  if (options.signal?.aborted) throw new AppError('cancelled', 'Cancelled.');
  let entries;
  try {
    entries = await fs.readdir(dir, { withFileTypes: true });
  } catch {
    return; // unreadable folder: skip it rather than fail the whole listing
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const abs = path.join(dir, e.name);
    const kind = e.isSymbolicLink() ? 'link' : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other';
    if (kind === 'dir' && SKIPPED_DIRS.has(e.name)) continue;
    yield { abs, kind, depth };
    if (kind === 'dir' && options.recursive && depth + 1 < (options.maxDepth ?? 12)) yield* walk(abs, options, depth + 1);
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
