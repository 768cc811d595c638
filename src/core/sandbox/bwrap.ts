/**
 * Commands in bubblewrap (Linux). What a command sees:
 *
 * - `/` read-only; a fresh `/dev` and `/proc`; `/run` empty (no Docker, D-Bus or ssh-agent sockets);
 * - `/tmp` and `$HOME` are private folders on disk, empty at the start and deleted afterwards; HOME keeps
 *   its path so tools that look for it work, but nothing of the user's home is there except toolchain
 *   folders (nvm, pyenv, cargo, go, … and whatever PATH names under home), read-only;
 * - the open workspace folders read-only; the agent's folder read-write;
 * - hidden on top of all that: the extension's storage and the usual secrets under home (`.ssh`, `.aws`,
 *   `.config`, …) wherever a read-only folder brought them back into view;
 * - no network (a new network namespace has only its own loopback) unless the setting allows it;
 * - a new pid namespace whose init dies with the command, and `--die-with-parent`: when the command ends,
 *   is cancelled or times out, every process it started (a `setsid` daemon too) is killed by the kernel;
 * - all capabilities dropped, a new session (no terminal injection), the scrubbed environment.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { CommandSandbox, PreparedCommand, SandboxRequest } from './types';

/** Folders under home that hold toolchains, not secrets: made visible again, read-only. */
export const HOME_TOOLCHAINS = [
  '.nvm', '.volta', '.fnm', '.local/share/fnm', '.local/bin', '.local/lib', '.local/share/pnpm', '.pyenv', '.cargo', '.rustup',
  'go', '.deno', '.bun', '.sdkman', '.asdf', '.local/share/mise', '.jenv', '.rbenv', '.goenv', '.elan', '.ghcup', '.juliaup',
  '.dotnet', '.npm-global', '.yarn/bin', 'miniconda3', 'anaconda3', 'miniforge3',
];

/** Secrets under home, hidden whenever a readable folder (the workspace, a toolchain) would show them. */
export const HOME_SECRETS = [
  '.ssh', '.aws', '.azure', '.gnupg', '.config', '.netrc', '.npmrc', '.yarnrc', '.yarnrc.yml', '.pypirc', '.docker', '.kube',
  '.git-credentials', '.gitconfig', '.local/share/keyrings', '.password-store', '.vscode', '.vscode-server', '.vscode-insiders',
  '.cursor', '.cargo/credentials', '.cargo/credentials.toml', '.m2', '.gradle', '.terraform.d', '.bash_history', '.zsh_history',
  '.python_history', '.node_repl_history', '.psql_history', '.mysql_history', '.lesshst', '.viminfo', '.mozilla', '.thunderbird',
  '.pki', '.oci', '.gem/credentials', '.ollama', '.local/share/code-server', '.local/share/code-server-data',
];

/** Environment variables that name toolchain folders (made visible when under home). */
const TOOLCHAIN_ENV = ['GOROOT', 'GOPATH', 'CARGO_HOME', 'RUSTUP_HOME', 'JAVA_HOME', 'VIRTUAL_ENV', 'CONDA_PREFIX', 'PYENV_ROOT', 'NVM_DIR', 'VOLTA_HOME', 'PNPM_HOME'];

export interface BwrapOptions {
  /** Path of the bwrap binary. */
  bwrap: string;
  network: boolean;
  /** Files and folders no command may see (the extension's storage). */
  hide?: readonly string[];
  /** The user's home (default: os.homedir()). */
  home?: string;
  /** Where private temp folders are made (default: os.tmpdir()). */
  tmpBase?: string;
}

type Kind = 'dir' | 'file' | undefined;

function kindOf(p: string): Kind {
  try {
    const st = fs.statSync(p);
    return st.isDirectory() ? 'dir' : 'file';
  } catch {
    return undefined;
  }
}

function real(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

function inside(child: string, root: string): boolean {
  return child === root || child.startsWith(root.endsWith('/') ? root : `${root}/`);
}

/** Toolchain folders under `home` to show again: the known ones, those env variables name, and PATH entries. */
export function homeToolchains(home: string, env: Record<string, string | undefined>, kind: (p: string) => Kind = kindOf): string[] {
  const found = new Set<string>();
  const add = (p: string) => {
    const r = path.resolve(p);
    if (r !== home && inside(r, home) && kind(r) === 'dir') found.add(r);
  };
  for (const rel of HOME_TOOLCHAINS) add(path.join(home, rel));
  for (const k of TOOLCHAIN_ENV) if (env[k]) add(env[k]!);
  for (const entry of (env.PATH ?? '').split(':')) {
    if (!entry || !path.isAbsolute(entry)) continue;
    // …/bin and …/shims usually need their siblings (lib/, libexec/): show the parent.
    add(/\/(bin|shims)\/?$/.test(entry) ? path.dirname(entry) : entry);
  }
  // A folder inside another one already shown adds nothing.
  return [...found].sort().filter((p, _, all) => !all.some(o => o !== p && inside(p, o)));
}

/**
 * The bwrap arguments for one command. `tmp` is the private folder for this command (with `tmp/` and
 * `home/` inside it). Pure apart from `kind` (which paths exist), so it is unit-tested as text.
 */
export function bwrapArgs(req: SandboxRequest, opts: BwrapOptions & { tmp: string }, kind: (p: string) => Kind = kindOf): string[] {
  const a: string[] = ['--die-with-parent', '--new-session', '--unshare-all'];
  if (opts.network) a.push('--share-net');
  a.push('--cap-drop', 'ALL', '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc');
  a.push('--bind', path.join(opts.tmp, 'tmp'), '/tmp');
  for (const run of ['/run', '/var/run']) {
    let isLink = false;
    try {
      isLink = fs.lstatSync(run).isSymbolicLink();
    } catch {
      continue;
    }
    if (!isLink && kind(run) === 'dir') a.push('--tmpfs', run);
  }
  // resolv.conf often points into /run; DNS needs it when the network is on.
  if (opts.network) a.push('--ro-bind-try', '/run/systemd/resolve', '/run/systemd/resolve');

  const shown: string[] = [];
  const home = opts.home ? real(opts.home) : undefined;
  if (home && home !== '/' && kind(home) === 'dir') {
    a.push('--bind', path.join(opts.tmp, 'home'), home);
    for (const t of homeToolchains(home, req.env, kind)) {
      a.push('--ro-bind', t, t);
      shown.push(t);
    }
  }
  for (const r of req.readable ?? []) {
    const rr = real(r);
    if (kind(rr) !== 'dir') continue;
    a.push('--ro-bind', rr, rr);
    shown.push(rr);
  }
  const cwd = real(req.cwd);
  a.push('--bind', cwd, cwd);
  shown.push(cwd);

  const hide = new Set<string>();
  for (const h of opts.hide ?? []) hide.add(real(h));
  if (home) {
    for (const rel of HOME_SECRETS) {
      const s = path.join(home, rel);
      if (shown.some(d => inside(s, d))) hide.add(s);
    }
  }
  for (const h of [...hide].sort()) {
    const k = kind(h);
    if (k === 'dir') a.push('--tmpfs', h);
    else if (k === 'file') a.push('--ro-bind', '/dev/null', h);
  }
  a.push('--chdir', cwd, '--', '/bin/sh', '-c', req.command);
  return a;
}

export class BwrapSandbox implements CommandSandbox {
  readonly kind = 'bwrap';
  readonly confined = true;
  readonly network: boolean;

  constructor(private readonly opts: BwrapOptions) {
    this.network = opts.network;
  }

  describe(): string {
    return `bubblewrap sandbox (writes only in the agent's folder, ${this.network ? 'network allowed' : 'no network'})`;
  }

  prepare(req: SandboxRequest): PreparedCommand {
    const tmp = fs.mkdtempSync(path.join(this.opts.tmpBase ?? os.tmpdir(), 'ai2ai-cmd-'));
    fs.mkdirSync(path.join(tmp, 'tmp'), { mode: 0o700 });
    fs.mkdirSync(path.join(tmp, 'home'), { mode: 0o700 });
    const home = this.opts.home ?? os.homedir();
    const args = bwrapArgs(req, { ...this.opts, home, tmp });
    const env = { ...req.env, HOME: home && home !== '/' ? home : '/tmp', TMPDIR: '/tmp' };
    return {
      file: this.opts.bwrap,
      args,
      env,
      cwd: req.cwd,
      dispose: () => removeTree(tmp),
    };
  }
}

/** Removes a private temp folder, making read-only folders writable first (tools leave some behind). */
export function removeTree(dir: string): void {
  try {
    fs.rmSync(dir, { recursive: true, force: true, maxRetries: 2 });
  } catch {
    try {
      const fix = (p: string) => {
        for (const e of fs.readdirSync(p, { withFileTypes: true })) {
          if (e.isDirectory()) {
            fs.chmodSync(path.join(p, e.name), 0o700);
            fix(path.join(p, e.name));
          }
        }
      };
      fs.chmodSync(dir, 0o700);
      fix(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    } catch {
      // left for the OS's temp cleaning
    }
  }
}
