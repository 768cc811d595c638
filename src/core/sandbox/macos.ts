/**
 * Commands under `sandbox-exec` (macOS). The profile denies everything, then allows what a build or test
 * needs: running programs, reading files, writing only in the agent's folder and a private temp folder
 * (which is also HOME and TMPDIR), and no network unless allowed. Reading is denied again for the
 * extension's storage and the usual secrets under home. Paths go in as `-D` parameters, never spliced
 * into the profile text, so no path can change the profile's meaning.
 *
 * macOS has no pid namespaces: a process that leaves the command's process group (`setsid`) is not
 * killed with it. The allowlist and approval still apply; the docs say so.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { HOME_SECRETS, removeTree } from './bwrap';
import type { CommandSandbox, PreparedCommand, SandboxRequest } from './types';

export interface SandboxExecOptions {
  network: boolean;
  hide?: readonly string[];
  home?: string;
  tmpBase?: string;
  /** Path of sandbox-exec (default /usr/bin/sandbox-exec). */
  sandboxExec?: string;
}

function real(p: string): string {
  try {
    return fs.realpathSync.native(p);
  } catch {
    return path.resolve(p);
  }
}

/** The profile text and its parameters. Pure, so it is unit-tested as text on any platform. */
export function sandboxExecProfile(opts: { cwd: string; tmp: string; network: boolean; hide: readonly string[] }): { profile: string; params: Record<string, string> } {
  const params: Record<string, string> = { AGENT_DIR: opts.cwd, TMP_DIR: opts.tmp };
  const lines = [
    '(version 1)',
    '(deny default)',
    '(allow process-exec process-fork)',
    '(allow signal (target same-sandbox))',
    '(allow process-info* (target same-sandbox))',
    '(allow sysctl-read)',
    '(allow mach-lookup)',
    '(allow ipc-posix-shm ipc-posix-sem)',
    '(allow file-read*)',
    '(allow file-write* (subpath (param "AGENT_DIR")) (subpath (param "TMP_DIR")) (literal "/dev/null") (literal "/dev/zero") (regex #"^/dev/tty") (regex #"^/dev/fd/"))',
    '(allow file-ioctl (regex #"^/dev/tty"))',
  ];
  opts.hide.forEach((h, i) => {
    params[`HIDE_${i}`] = h;
    lines.push(`(deny file-read* file-write* (subpath (param "HIDE_${i}")))`);
  });
  lines.push(opts.network ? '(allow network*)' : '(deny network*)');
  return { profile: `${lines.join('\n')}\n`, params };
}

/** The sandbox-exec argument list for a profile, its parameters and a shell command. */
export function sandboxExecArgs(profile: string, params: Record<string, string>, command: string): string[] {
  const a = ['-p', profile];
  for (const [k, v] of Object.entries(params)) a.push('-D', `${k}=${v}`);
  a.push('/bin/sh', '-c', command);
  return a;
}

export class SandboxExecSandbox implements CommandSandbox {
  readonly kind = 'sandbox-exec';
  readonly confined = true;
  readonly network: boolean;

  constructor(private readonly opts: SandboxExecOptions) {
    this.network = opts.network;
  }

  describe(): string {
    return `macOS sandbox-exec (writes only in the agent's folder, ${this.network ? 'network allowed' : 'no network'})`;
  }

  prepare(req: SandboxRequest): PreparedCommand {
    const tmp = real(fs.mkdtempSync(path.join(this.opts.tmpBase ?? os.tmpdir(), 'ai2ai-cmd-')));
    const home = real(this.opts.home ?? os.homedir());
    const hide = [...(this.opts.hide ?? []).map(real), ...HOME_SECRETS.map(s => path.join(home, s))];
    const { profile, params } = sandboxExecProfile({ cwd: real(req.cwd), tmp, network: this.network, hide });
    return {
      file: this.opts.sandboxExec ?? '/usr/bin/sandbox-exec',
      args: sandboxExecArgs(profile, params, req.command),
      env: { ...req.env, HOME: tmp, TMPDIR: tmp },
      cwd: req.cwd,
      dispose: () => removeTree(tmp),
    };
  }
}
