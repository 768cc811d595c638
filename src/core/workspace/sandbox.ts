/**
 * The path sandbox: every path a model names goes through here before any file-system call.
 *
 * Policy (each rule exists because a model, a prompt injection or a platform quirk can produce it):
 * - Relative paths resolve against the agent's folder (`writeRoot`). Reads may reach anywhere inside
 *   the open workspace folders (task attachments live there); writes only inside the agent's folder,
 *   never the folder itself. Nothing, read or write, inside a `.git` directory (any case): writing
 *   there is code execution (hooks), and reading it can leak remote credentials.
 * - The check is made on the REAL path: the longest existing prefix is realpath'd, so a symlink (also
 *   a parent-directory symlink of a file that does not exist yet) that points out is refused, and a
 *   dangling or looping symlink is refused because the OS would follow it where we cannot see.
 * - Backslashes are separators on every platform (models write Windows paths); `..` is allowed only
 *   while the result stays inside. Refused outright: NUL and control characters, `~` expansion,
 *   percent-encoded dots/slashes, URLs, UNC and device paths (`\\server`, `\\?\`), drive letters on
 *   POSIX and drive-relative `C:x` on Windows, `:` elsewhere (NTFS alternate streams), characters
 *   invalid on Windows (`<>"|?*`), segments Windows would silently rewrite (trailing dot or space,
 *   `...`, 8.3 short names like `GIT~1`, device names like `CON`), Unicode look-alikes that NFKC folds
 *   into `.` `/` `\` `:` `~` `%`, paths over 1024 characters or segments over 255.
 * - On a case-insensitive file system containment is compared case-folded, so `/WS/Agents/..` tricks
 *   cannot pass a case-sensitive prefix test.
 * - Writing to a file with more than one hard link is refused: it would change the other copy too,
 *   and hard links cannot be traced to where the other name lives.
 * Every refusal is an AppError('path_escape') whose message names the path and says where the agent
 * may write. The returned path is absolute and already resolved, so callers never re-join `..`.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppError } from '../errors';

export const MAX_PATH_CHARS = 1024;
const MAX_SEGMENT_CHARS = 255;
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9¹²³]|lpt[0-9¹²³]|conin\$|conout\$)(\..*)?$/i;

export interface PathSandboxOptions {
  /** Absolute paths of the open workspace folders. */
  workspaceRoots: readonly string[];
  /** Absolute path of the agent's folder. */
  writeRoot: string;
  /** Fold case when comparing paths; detected from the file system when omitted. */
  caseInsensitive?: boolean;
  /** For the drive-letter rules; defaults to the running platform. */
  platform?: NodeJS.Platform;
}

export type AccessMode = 'read' | 'write';

/** The real path of `p`, or undefined when it cannot be resolved (missing, a dangling or looping link). */
function realpathOf(p: string): string | undefined {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return undefined;
  }
}

function realOrLexical(p: string): string {
  return realpathOf(p) ?? path.resolve(p);
}

function flipCase(s: string): string {
  return [...s].map(c => (c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase())).join('');
}

/** Is the file system holding `dir` case-insensitive? Compare the inode of the path with its case flipped. */
export function detectCaseInsensitive(dir: string, platform: NodeJS.Platform = process.platform): boolean {
  const flipped = flipCase(dir);
  if (flipped !== dir) {
    try {
      const a = fs.statSync(dir);
      const b = fs.statSync(flipped);
      return a.ino === b.ino && a.dev === b.dev;
    } catch {
      return false;
    }
  }
  return platform === 'darwin' || platform === 'win32';
}

export class PathSandbox {
  readonly writeRoot: string;
  readonly workspaceRoots: readonly string[];
  readonly caseInsensitive: boolean;
  private readonly platform: NodeJS.Platform;
  /** How the agent's folder is named to the model, e.g. `agents/alice/`. */
  readonly writeRootLabel: string;

  constructor(options: PathSandboxOptions) {
    this.platform = options.platform ?? process.platform;
    this.writeRoot = realOrLexical(options.writeRoot);
    this.workspaceRoots = options.workspaceRoots.map(realOrLexical);
    this.caseInsensitive = options.caseInsensitive ?? detectCaseInsensitive(this.writeRoot, this.platform);
    const home = this.workspaceRoots.find(r => this.inside(this.writeRoot, r));
    const rel = home ? path.relative(home, this.writeRoot).split(path.sep).join('/') : '';
    this.writeRootLabel = `${rel || path.basename(this.writeRoot)}/`;
  }

  /** Absolute real path for reading `p`; throws AppError('path_escape') when refused. */
  resolveRead(p: string): string {
    return this.resolve(p, 'read');
  }

  /** Absolute real path for writing (or deleting) `p`; throws AppError('path_escape') when refused. */
  resolveWrite(p: string): string {
    return this.resolve(p, 'write');
  }

  /**
   * The entry `p` names itself, for deleting: the parent folder is resolved and checked like any write
   * path, the last name is not (a symlink is the entry, not its target).
   */
  resolveEntry(p: string): string {
    const q = this.checkSyntax(p, 'write');
    if (/^[A-Za-z]:\//.test(q) && !path.isAbsolute(q)) this.refuse(p, 'it resolves outside the allowed folders', 'write');
    const lexical = path.isAbsolute(q) ? path.resolve(q) : path.resolve(this.writeRoot, q);
    const name = path.basename(lexical);
    const parentLexical = path.dirname(lexical);
    if (this.inside(this.writeRoot, lexical) || name === '' || parentLexical === lexical) this.refuse(p, 'that is your folder itself; name a file inside it', 'write');
    const parent = this.resolveLexical(parentLexical, p, 'write', true);
    const entry = path.join(parent, name);
    if (name.toLowerCase() === '.git') this.refuse(p, 'files inside .git are off limits', 'write');
    return entry;
  }

  /**
   * The checked root that `abs` (a path this sandbox returned) lies below: the agent's folder for writes;
   * for reads the most specific of the agent's folder and the workspace folders. File tools walk from it.
   */
  rootOf(abs: string, mode: AccessMode): string {
    const roots = mode === 'write' ? [this.writeRoot] : [this.writeRoot, ...this.workspaceRoots];
    const root = roots.filter(r => this.inside(abs, r)).sort((a, b) => b.length - a.length)[0];
    if (!root) this.refuse(abs, 'it resolves outside the allowed folders', mode);
    return root;
  }

  /** How to show a resolved path to the model: relative to its folder, with forward slashes. */
  display(abs: string): string {
    const rel = path.relative(this.writeRoot, abs).split(path.sep).join('/');
    return rel === '' ? '.' : rel;
  }

  /** Is `child` equal to or below `root`? Case-folded on case-insensitive file systems. */
  inside(child: string, root: string): boolean {
    const fold = (s: string) => (this.caseInsensitive ? s.normalize('NFC').toLowerCase() : s);
    const c = fold(child);
    const r = fold(root);
    if (c === r) return true;
    return c.startsWith(r.endsWith(path.sep) ? r : r + path.sep);
  }

  private refuse(p: unknown, why: string, mode: AccessMode, detail?: Record<string, unknown>): never {
    const shown = typeof p === 'string' ? JSON.stringify(p.length > 200 ? `${p.slice(0, 200)}…` : p) : String(p);
    const where =
      mode === 'write'
        ? `You may write only inside your folder ${this.writeRootLabel}; use a relative path such as src/index.js.`
        : `You may read files inside the open workspace and write only inside your folder ${this.writeRootLabel}; use a relative path such as src/index.js.`;
    throw new AppError('path_escape', `Refused path ${shown}: ${why}. ${where}`, { path: p, mode, writeRoot: this.writeRoot, ...detail });
  }

  /** Syntax rules that need no file system. Returns the path with `/` separators. */
  private checkSyntax(p: unknown, mode: AccessMode): string {
    if (typeof p !== 'string' || p.trim() === '') this.refuse(p, 'the path is empty', mode);
    if (p.length > MAX_PATH_CHARS) this.refuse(p, `the path is longer than ${MAX_PATH_CHARS} characters`, mode);
    if (p.includes('\0')) this.refuse(p, 'it contains a NUL byte', mode);
    if (/[\x01-\x1f\x7f]/.test(p)) this.refuse(p, 'it contains control characters (newline, tab…)', mode);
    if (p !== p.trim()) this.refuse(p, 'it starts or ends with whitespace', mode);
    const special = (s: string) => (s.match(/[./\\:~%]/g) ?? []).length;
    if (special(p.normalize('NFKC')) !== special(p)) this.refuse(p, 'it contains look-alike Unicode characters for . / \\ : ~ or %', mode);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(p)) this.refuse(p, 'URLs are not paths', mode);
    if (/%(2e|2f|5c|25|3a|00|[01][0-9a-f]|7f)/i.test(p)) this.refuse(p, 'percent-encoded characters are not decoded; write the plain path', mode);
    if (p.startsWith('~')) this.refuse(p, '"~" (home directory) is not expanded', mode);
    const q = p.replace(/\\/g, '/');
    if (q.startsWith('//')) this.refuse(p, 'UNC and device paths (\\\\server\\share, \\\\?\\) are not allowed', mode);
    const drive = /^[A-Za-z]:/.exec(q);
    if (drive) {
      if (this.platform !== 'win32') this.refuse(p, 'drive letters are not paths on this system', mode);
      if (q[2] !== '/') this.refuse(p, 'drive-relative paths like C:file are not allowed', mode);
    }
    const rest = drive ? q.slice(2) : q;
    if (rest.includes(':')) this.refuse(p, '":" is not allowed in a file name (alternate data streams)', mode);
    if (/[<>"|?*]/.test(rest)) this.refuse(p, 'it contains a character that is invalid in file names (< > " | ? *)', mode);
    for (const seg of rest.split('/')) {
      if (seg === '' || seg === '.' || seg === '..') continue;
      if (/^\.+$/.test(seg)) this.refuse(p, `the segment "${seg}" is not a valid name`, mode);
      if (/[. ]$/.test(seg)) this.refuse(p, `the segment "${seg}" ends with a dot or space, which Windows strips`, mode);
      if (/~\d/.test(seg)) this.refuse(p, `the segment "${seg}" looks like a Windows 8.3 short name`, mode);
      if (WINDOWS_DEVICE.test(seg)) this.refuse(p, `"${seg}" is a reserved device name`, mode);
      if (Buffer.byteLength(seg) > MAX_SEGMENT_CHARS) this.refuse(p, `a path segment is longer than ${MAX_SEGMENT_CHARS} bytes`, mode);
    }
    return q;
  }

  /**
   * Real path of the longest existing prefix of `abs`, plus the rest. Refuses dangling symlinks. `leaf` is
   * the lstat of `abs` itself when it exists.
   */
  private realPrefix(abs: string, p: string, mode: AccessMode): { real: string; leaf?: fs.Stats } {
    const dangling = (): never => this.refuse(p, 'it goes through a symbolic link whose target is missing or loops', mode);
    // The path itself: its lstat tells a missing name from a dangling symlink, and is the file's own stat.
    const leaf = this.lstat(abs, p, mode);
    if (leaf) return { real: realpathOf(abs) ?? dangling(), leaf };
    // Above it, realpath first (a new file's folder usually exists): only when that fails does an lstat
    // tell a missing folder (look further up) from a symlink that leads nowhere (refused).
    const rest = [path.basename(abs)];
    let cur = path.dirname(abs);
    for (;;) {
      const real = realpathOf(cur);
      if (real !== undefined) return { real: path.join(real, ...rest.reverse()) };
      if (this.lstat(cur, p, mode)) dangling();
      const parent = path.dirname(cur);
      if (parent === cur) return { real: abs };
      rest.push(path.basename(cur));
      cur = parent;
    }
  }

  /** lstat of `at`, or undefined when nothing is there; any other failure refuses `p`. */
  private lstat(at: string, p: string, mode: AccessMode): fs.Stats | undefined {
    try {
      // a missing name answers undefined, not an exception: a new file's path is the common case
      return fs.lstatSync(at, { throwIfNoEntry: false });
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') this.refuse(p, `it cannot be checked (${code ?? 'error'})`, mode);
      return undefined;
    }
  }

  /**
   * A relative path that starts with the agent's folder as its prompt names it (`agents/ada/src/add.js`)
   * means that file inside the folder: small models often repeat the folder. Unless the folder really has
   * a subfolder of that name, which then wins. Takes and returns `/`-separated paths.
   */
  private withoutOwnFolder(q: string): string {
    const label = this.writeRootLabel.replace(/\/+$/, '');
    const rel = q.replace(/^(\.\/)+/, '');
    if (!label || rel.startsWith('/') || /^[A-Za-z]:\//.test(rel)) return q;
    const fold = (s: string) => (this.caseInsensitive ? s.toLowerCase() : s);
    if (fold(rel) !== fold(label) && !fold(rel).startsWith(`${fold(label)}/`)) return q;
    if (fs.existsSync(path.join(this.writeRoot, label.split('/')[0]))) return q;
    return rel.slice(label.length + 1) || '.';
  }

  private resolve(p: string, mode: AccessMode): string {
    const q = this.withoutOwnFolder(this.checkSyntax(p, mode));
    // A drive path that this platform's path module does not see as absolute (only when `platform` is
    // overridden) can name no folder of ours.
    if (/^[A-Za-z]:\//.test(q) && !path.isAbsolute(q)) this.refuse(p, 'it resolves outside the allowed folders', mode);
    const lexical = path.isAbsolute(q) ? path.resolve(q) : path.resolve(this.writeRoot, q);
    return this.resolveLexical(lexical, p, mode);
  }

  /** The checks on the real path of an absolute, syntax-checked `lexical` path (`p` is what the model wrote). */
  private resolveLexical(lexical: string, p: string, mode: AccessMode, allowRoot = false): string {
    const { real, leaf } = this.realPrefix(lexical, p, mode);

    const roots = mode === 'write' ? [this.writeRoot] : [this.writeRoot, ...this.workspaceRoots];
    const root = roots.find(r => this.inside(real, r));
    if (!root) {
      const lexicalInside = roots.some(r => this.inside(lexical, r));
      this.refuse(p, lexicalInside ? 'it goes through a symbolic link that points outside' : 'it resolves outside the allowed folders', mode, { resolved: real });
    }
    if (mode === 'write' && this.inside(root, real)) {
      if (allowRoot) return real;
      this.refuse(p, 'that is your folder itself; name a file inside it', mode);
    }
    const segments = path.relative(root, real).split(path.sep);
    if (segments.some(s => s.toLowerCase() === '.git')) this.refuse(p, 'files inside .git are off limits', mode);

    if (mode === 'write' && leaf) {
      try {
        // the leaf's own lstat is its stat unless it is a symlink (then the file it names is checked)
        const st = leaf.isSymbolicLink() ? fs.statSync(real, { throwIfNoEntry: false }) : leaf;
        if (st?.isFile() && st.nlink > 1) this.refuse(p, 'the file has several hard links, so writing it would change a file elsewhere too', mode);
      } catch (e) {
        if (AppError.is(e)) throw e;
      }
    }
    return real;
  }
}
