/**
 * File access that uses what it checked. The path sandbox decides on a real path, but between that
 * check and the open, any folder or file on the way can be swapped for a symlink to elsewhere (an agent's
 * background process, another agent). So the file tools never hand a whole path to the OS. They walk it
 * from the checked root one name at a time, each step relative to the folder already opened, refusing a
 * symlink at every step:
 *
 * - Linux: `/proc/self/fd/<dirfd>/<name>` opens `name` inside the very folder the descriptor holds (the
 *   kernel's openat, reachable from Node), with O_NOFOLLOW|O_DIRECTORY for folders and O_NOFOLLOW for the
 *   file. No window: what is opened is below the root, whatever is renamed meanwhile.
 * - Elsewhere: each component is checked with lstat before and after, and the opened descriptor must be
 *   the file lstat sees. That narrows the window to a swap and a swap back within microseconds.
 *
 * And on the descriptor, not the path: regular files only (a FIFO or device is refused before any byte is
 * read; opens are non-blocking so a FIFO cannot hang them), size caps on what is read, writes refused on
 * a file with more than one hard link. Everything is synchronous: these calls never wait on a pipe, and a
 * blocking read of a FIFO in Node's small thread pool would starve every later file operation.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppError } from '../errors';

const C = fs.constants;
const O_NOFOLLOW = C.O_NOFOLLOW ?? 0;
const O_DIRECTORY = C.O_DIRECTORY ?? 0;
const O_NONBLOCK = C.O_NONBLOCK ?? 0;

let procFd: boolean | undefined;
/** Is the openat emulation available (Linux with /proc)? Overridable for tests of the fallback. */
export function useProcFd(value?: boolean): boolean {
  if (value !== undefined) procFd = value;
  if (procFd === undefined) {
    procFd = process.platform === 'linux' && (() => {
      try {
        const fd = fs.openSync('/', C.O_RDONLY | O_DIRECTORY);
        try {
          return fs.statSync(`/proc/self/fd/${fd}`).ino === fs.statSync('/').ino;
        } finally {
          fs.closeSync(fd);
        }
      } catch {
        return false;
      }
    })();
  }
  return procFd;
}

/** A folder opened below the root: its descriptor (Linux) and its path (for messages and the fallback). */
interface Dir {
  fd: number | undefined;
  path: string;
}

function at(dir: Dir, name: string): string {
  return dir.fd !== undefined ? `/proc/self/fd/${dir.fd}/${name}` : path.join(dir.path, name);
}

function close(dir: Dir): void {
  if (dir.fd !== undefined) {
    try {
      fs.closeSync(dir.fd);
    } catch {
      // already closed
    }
  }
}

function code(e: unknown): string | undefined {
  return (e as NodeJS.ErrnoException)?.code;
}

export function symlinkRefusal(shown: string): AppError {
  return new AppError(
    'path_escape',
    `Refused path "${shown}": a part of it is (or just became) a symbolic link or not a folder, and file tools never follow links. Use the real path inside your folder.`,
    { path: shown },
  );
}

/** Names below `root` on the way to `abs` (both real paths). */
function segmentsOf(root: string, abs: string): string[] {
  const rel = path.relative(root, abs);
  if (rel === '') return [];
  const segs = rel.split(path.sep);
  if (rel.startsWith('..') || path.isAbsolute(rel) || segs.some(s => s === '..' || s === '.' || s === '')) {
    throw new AppError('path_escape', `Refused path "${abs}": it is not inside "${root}".`, { path: abs, root });
  }
  return segs;
}

/** Fallback: no component below root may be a symlink right now. */
function checkChain(root: string, segs: readonly string[], upTo: number, shown: string): void {
  let cur = root;
  for (let i = 0; i < upTo; i++) {
    cur = path.join(cur, segs[i]!);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(cur);
    } catch (e) {
      if (code(e) === 'ENOENT') return;
      throw e;
    }
    if (st.isSymbolicLink() || !st.isDirectory()) throw symlinkRefusal(shown);
  }
}

/**
 * Opens the folder `abs` below `root` without following a symlink at any step. `create` makes missing
 * folders (for write_file). Throws path_escape on a symlink or a non-folder; ENOENT when missing.
 */
function openDir(root: string, abs: string, shown: string, create = false): Dir {
  const segs = segmentsOf(root, abs);
  if (!useProcFd()) {
    checkChain(root, segs, segs.length, shown);
    if (create) fs.mkdirSync(abs, { recursive: true });
    checkChain(root, segs, segs.length, shown);
    if (!fs.lstatSync(abs).isDirectory()) throw symlinkRefusal(shown);
    return { fd: undefined, path: abs };
  }
  let dir: Dir = { fd: fs.openSync(root, C.O_RDONLY | O_DIRECTORY), path: root };
  try {
    for (const seg of segs) {
      const p = at(dir, seg);
      let fd: number;
      try {
        fd = fs.openSync(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
      } catch (e) {
        if (code(e) === 'ENOENT' && create) {
          try {
            fs.mkdirSync(p);
          } catch (me) {
            if (code(me) !== 'EEXIST') throw me;
          }
          try {
            fd = fs.openSync(p, C.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
          } catch (e2) {
            if (code(e2) === 'ELOOP' || code(e2) === 'ENOTDIR') throw symlinkRefusal(shown);
            throw e2;
          }
        } else if (code(e) === 'ELOOP' || code(e) === 'ENOTDIR') {
          throw symlinkRefusal(shown);
        } else throw e;
      }
      close(dir);
      dir = { fd, path: path.join(dir.path, seg) };
    }
    return dir;
  } catch (e) {
    close(dir);
    throw e;
  }
}

function kindName(st: fs.Stats): string {
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  if (st.isSocket()) return 'a socket';
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  return 'not a regular file';
}

/** A FIFO, device or socket is refused before it is opened (opening one can block or have effects). */
function refuseSpecial(st: fs.Stats, shown: string): void {
  if (st.isSymbolicLink()) throw symlinkRefusal(shown);
  if (st.isDirectory()) throw new AppError('validation', `"${shown}" is a folder, not a file.`, { path: shown });
  if (!st.isFile()) throw new AppError('validation', `"${shown}" is ${kindName(st)}; file tools read and write regular files only.`, { path: shown });
}

export type Entry = { kind: 'missing' } | { kind: 'file' | 'dir' | 'link' | 'other'; stat: fs.Stats };

/** lstat of `abs` below `root`: what is there, never following a link. */
export function entryBelow(root: string, abs: string, shown = abs): Entry {
  if (abs === root) return { kind: 'dir', stat: fs.lstatSync(root) };
  let dir: Dir;
  try {
    dir = openDir(root, path.dirname(abs), shown);
  } catch (e) {
    if (code(e) === 'ENOENT') return { kind: 'missing' };
    throw e;
  }
  try {
    const st = fs.lstatSync(at(dir, path.basename(abs)), { throwIfNoEntry: false });
    if (!st) return { kind: 'missing' };
    return { kind: st.isSymbolicLink() ? 'link' : st.isDirectory() ? 'dir' : st.isFile() ? 'file' : 'other', stat: st };
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return { kind: 'missing' };
    throw e;
  } finally {
    close(dir);
  }
}

/**
 * Opens a regular file below `root`; the descriptor is checked, and compared with what lstat saw. `stat` is
 * left out for a file this call created through a folder descriptor: O_EXCL made it, a new empty regular
 * file with one link, so there is nothing to check (and a write saves a system call).
 */
function openFile(root: string, abs: string, shown: string, flags: number, mode?: number): { fd: number; stat?: fs.Stats; created: boolean; dir: Dir } {
  const dir = openDir(root, path.dirname(abs), shown, (flags & C.O_CREAT) !== 0);
  const name = path.basename(abs);
  const p = at(dir, name);
  try {
    let created = false;
    let fd: number;
    try {
      if (flags & C.O_CREAT) {
        try {
          fd = fs.openSync(p, flags | C.O_EXCL | O_NOFOLLOW | O_NONBLOCK, mode);
          created = true;
        } catch (e) {
          if (code(e) !== 'EEXIST') throw e;
          refuseSpecial(fs.lstatSync(p), shown);
          fd = fs.openSync(p, (flags & ~C.O_CREAT) | O_NOFOLLOW | O_NONBLOCK);
        }
      } else {
        // lstat first: opening a device can have effects of its own, so it is refused before any open.
        refuseSpecial(fs.lstatSync(p), shown);
        fd = fs.openSync(p, flags | O_NOFOLLOW | O_NONBLOCK);
      }
    } catch (e) {
      if (code(e) === 'ELOOP') throw symlinkRefusal(shown);
      if (code(e) === 'EISDIR') throw new AppError('validation', `"${shown}" is a folder, not a file.`, { path: shown });
      if (code(e) === 'ENXIO') throw new AppError('validation', `"${shown}" is a FIFO (named pipe); file tools read and write regular files only.`, { path: shown });
      throw e;
    }
    if (created && dir.fd !== undefined) return { fd, created, dir };
    const stat = fs.fstatSync(fd);
    const refuse = (err: AppError) => {
      fs.closeSync(fd);
      throw err;
    };
    if (!stat.isFile()) refuse(new AppError('validation', `"${shown}" is ${kindName(stat)}; file tools read and write regular files only.`, { path: shown }));
    if (dir.fd === undefined) {
      // Fallback: the descriptor must be what the (re-checked) path names now.
      checkChain(root, segmentsOf(root, path.dirname(abs)), segmentsOf(root, path.dirname(abs)).length, shown);
      let now: fs.Stats | undefined;
      try {
        now = fs.lstatSync(abs);
      } catch {
        now = undefined;
      }
      if (!now || now.isSymbolicLink() || now.ino !== stat.ino || now.dev !== stat.dev) refuse(symlinkRefusal(shown));
    }
    return { fd, stat, created, dir };
  } catch (e) {
    close(dir);
    throw e;
  }
}

/** The stat of a file `openFile` opened (it has one unless the call created the file). */
function statOf(f: { fd: number; stat?: fs.Stats }): fs.Stats {
  return f.stat ?? fs.fstatSync(f.fd);
}

function readAll(fd: number, max: number): Buffer {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.allocUnsafe(Math.min(64 * 1024, max + 1 - total));
    if (buf.length === 0) break;
    const n = fs.readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
    if (total > max) break;
  }
  return Buffer.concat(chunks, total);
}

export type ReadResult = { kind: 'ok'; buf: Buffer } | { kind: 'missing' } | { kind: 'too_large'; size: number };

/** Reads a regular file below `root`, at most `maxBytes` (checked on the descriptor and while reading). */
export function readFileBelow(root: string, abs: string, maxBytes: number, shown = abs): ReadResult {
  let f;
  try {
    f = openFile(root, abs, shown, C.O_RDONLY);
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return { kind: 'missing' };
    throw e;
  }
  try {
    const stat = statOf(f);
    if (stat.size > maxBytes) return { kind: 'too_large', size: stat.size };
    const buf = readAll(f.fd, maxBytes);
    if (buf.length > maxBytes) return { kind: 'too_large', size: Math.max(buf.length, stat.size) };
    return { kind: 'ok', buf };
  } finally {
    fs.closeSync(f.fd);
    close(f.dir);
  }
}

/** The first `maxBytes` of a regular file below `root` (a larger file is cut, not refused). */
export function readHeadBelow(root: string, abs: string, maxBytes: number, shown = abs): Buffer | undefined {
  let f;
  try {
    f = openFile(root, abs, shown, C.O_RDONLY);
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return undefined;
    throw e;
  }
  try {
    const buf = readAll(f.fd, maxBytes);
    return buf.subarray(0, maxBytes);
  } finally {
    fs.closeSync(f.fd);
    close(f.dir);
  }
}

function refuseLinked(stat: fs.Stats, shown: string): void {
  if (stat.nlink > 1) {
    throw new AppError('path_escape', `Refused path "${shown}": the file has several hard links, so writing it would change a file elsewhere too.`, { path: shown });
  }
}

/**
 * Writes `data` over the file open at `fd` from its start, then cuts an existing file to the new length.
 * Not truncated to zero first: on ext4 a file truncated to zero and then written is flushed to disk on
 * close (auto_da_alloc), which made every write several times dearer. A file just created is empty.
 */
function writeFd(fd: number, data: Buffer, existing: boolean): void {
  let done = 0;
  try {
    while (done < data.length) done += fs.writeSync(fd, data, done, data.length - done, done);
  } finally {
    // also after a failed write (a full disk): what was written, never the new start over the old end
    if (existing) fs.ftruncateSync(fd, done);
  }
}

/** Creates or overwrites a regular file below `root` (missing folders are made, none followed). */
export function writeFileBelow(root: string, abs: string, data: Buffer, shown = abs): { created: boolean } {
  const f = openFile(root, abs, shown, C.O_WRONLY | C.O_CREAT, 0o666);
  try {
    if (f.stat) refuseLinked(f.stat, shown);
    writeFd(f.fd, data, !f.created);
    return { created: f.created };
  } finally {
    fs.closeSync(f.fd);
    close(f.dir);
  }
}

/**
 * Reads a regular file below `root`, lets `edit` compute the new content from it, and writes that back
 * through the same descriptor. `edit` returns undefined to leave the file as it is.
 */
export function editFileBelow<T>(root: string, abs: string, maxBytes: number, edit: (buf: Buffer) => { data?: Buffer; result: T }, shown = abs): ReadResult & { result?: T } {
  let f;
  try {
    f = openFile(root, abs, shown, C.O_RDWR);
  } catch (e) {
    if (code(e) === 'ENOENT' || code(e) === 'ENOTDIR') return { kind: 'missing' };
    throw e;
  }
  try {
    const stat = statOf(f);
    refuseLinked(stat, shown);
    if (stat.size > maxBytes) return { kind: 'too_large', size: stat.size };
    const buf = readAll(f.fd, maxBytes);
    if (buf.length > maxBytes) return { kind: 'too_large', size: buf.length };
    const { data, result } = edit(buf);
    if (data) writeFd(f.fd, data, true);
    return { kind: 'ok', buf, result };
  } finally {
    fs.closeSync(f.fd);
    close(f.dir);
  }
}

/** Deletes the entry `abs` below `root` itself: a symlink is removed, never its target. Folders are refused. */
export function unlinkBelow(root: string, abs: string, shown = abs): 'deleted' | 'missing' | 'folder' {
  if (abs === root) return 'folder';
  let dir: Dir;
  try {
    dir = openDir(root, path.dirname(abs), shown);
  } catch (e) {
    if (code(e) === 'ENOENT') return 'missing';
    throw e;
  }
  try {
    const p = at(dir, path.basename(abs));
    let st: fs.Stats;
    try {
      st = fs.lstatSync(p);
    } catch (e) {
      if (code(e) === 'ENOENT') return 'missing';
      throw e;
    }
    if (st.isDirectory()) return 'folder';
    if (dir.fd === undefined) checkChain(root, segmentsOf(root, path.dirname(abs)), segmentsOf(root, path.dirname(abs)).length, shown);
    try {
      fs.unlinkSync(p);
    } catch (e) {
      if (code(e) === 'EISDIR' || code(e) === 'EPERM') return 'folder';
      if (code(e) === 'ENOENT') return 'missing';
      throw e;
    }
    return 'deleted';
  } finally {
    close(dir);
  }
}

export interface DirEntry {
  name: string;
  kind: 'file' | 'dir' | 'link' | 'other';
}

/** A directory entry as the file tools see it (a symlink is a link, whatever it points to). */
export function entryOf(e: fs.Dirent): DirEntry {
  return { name: e.name, kind: e.isSymbolicLink() ? 'link' : e.isDirectory() ? 'dir' : e.isFile() ? 'file' : 'other' };
}

/** The entries of the folder `abs` below `root` (opened without following links); sorted by name. */
export function readDirBelow(root: string, abs: string, shown = abs): DirEntry[] {
  const dir = openDir(root, abs, shown);
  try {
    const entries = fs.readdirSync(dir.fd !== undefined ? `/proc/self/fd/${dir.fd}` : dir.path, { withFileTypes: true });
    return entries
      .map(entryOf)
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } finally {
    close(dir);
  }
}
