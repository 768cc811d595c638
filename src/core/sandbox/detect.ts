/**
 * Which sandbox this machine offers, found once per process by actually running one: bwrap may be
 * installed but unable to create namespaces (containers, kernels that restrict user namespaces), so its
 * presence proves nothing. The probe runs `exit 0` through the very arguments real commands use.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { BwrapSandbox, removeTree } from './bwrap';
import { commandEnv } from './env';
import { SandboxExecSandbox } from './macos';
import { noSandbox } from './none';
import type { CommandSandbox, CommandSetup, SandboxMode } from './types';

export type SandboxAvailability = { available: true; kind: 'bwrap' | 'sandbox-exec'; path: string } | { available: false; reason: string };

const BWRAP_PLACES = ['/usr/bin/bwrap', '/usr/local/bin/bwrap', '/bin/bwrap'];

function executable(p: string): boolean {
  try {
    fs.accessSync(p, fs.constants.X_OK);
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

/** bwrap from the usual places, else from PATH (absolute entries only: never the workspace). */
export function findBwrap(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const fromPath = (env.PATH ?? '').split(path.delimiter).filter(d => path.isAbsolute(d)).map(d => path.join(d, 'bwrap'));
  return [...BWRAP_PLACES, ...fromPath].find(executable);
}

function runProbe(file: string, args: string[], env: Record<string, string>, cwd: string): Promise<{ ok: boolean; output: string }> {
  return new Promise(resolve => {
    let output = '';
    let done = false;
    const finish = (ok: boolean) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      resolve({ ok, output: output.trim() });
    };
    const child = spawn(file, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      output += ' (the probe did not finish within 10 s)';
      finish(false);
    }, 10_000);
    child.stdout!.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr!.on('data', (b: Buffer) => (output += b.toString()));
    child.on('error', e => {
      output += e.message;
      finish(false);
    });
    child.on('exit', code => finish(code === 0));
  });
}

async function probeSandbox(sandbox: CommandSandbox): Promise<{ ok: boolean; output: string }> {
  const cwd = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-probe-'));
  const p = sandbox.prepare({ command: 'exit 0', cwd, env: commandEnv(process.env) });
  try {
    return await runProbe(p.file, p.args, p.env, p.cwd);
  } finally {
    p.dispose();
    removeTree(cwd);
  }
}

async function detect(network: boolean, platform: NodeJS.Platform): Promise<SandboxAvailability> {
  if (platform === 'linux') {
    const bwrap = findBwrap();
    if (!bwrap) return { available: false, reason: 'bubblewrap (bwrap) is not installed' };
    const r = await probeSandbox(new BwrapSandbox({ bwrap, network }));
    if (!r.ok) return { available: false, reason: `bubblewrap cannot create its sandbox here (${r.output.split('\n')[0] || 'no output'})` };
    return { available: true, kind: 'bwrap', path: bwrap };
  }
  if (platform === 'darwin') {
    const exec = '/usr/bin/sandbox-exec';
    if (!executable(exec)) return { available: false, reason: 'sandbox-exec is missing' };
    const r = await probeSandbox(new SandboxExecSandbox({ network, sandboxExec: exec }));
    if (!r.ok) return { available: false, reason: `sandbox-exec failed (${r.output.split('\n')[0] || 'no output'})` };
    return { available: true, kind: 'sandbox-exec', path: exec };
  }
  return { available: false, reason: `AI2AI has no command sandbox for ${platform} yet` };
}

const cache = new Map<string, Promise<SandboxAvailability>>();

/** Probes once per process (per network setting); `refresh` probes again (e.g. after installing bwrap). */
export function detectSandbox(opts: { network: boolean; platform?: NodeJS.Platform; refresh?: boolean }): Promise<SandboxAvailability> {
  const platform = opts.platform ?? process.platform;
  const key = `${platform}:${opts.network}`;
  if (opts.refresh || !cache.has(key)) cache.set(key, detect(opts.network, platform));
  return cache.get(key)!;
}

export interface CommandSetupOptions {
  mode: SandboxMode;
  /** Allow network access inside the sandbox (`ai2ai.commands.network`). */
  network: boolean;
  /** Hidden from every command: the extension's storage folder, for one. */
  hide?: readonly string[];
  /** The user's home (default os.homedir()). */
  home?: string;
  /** For tests: what the machine offers. */
  availability?: SandboxAvailability;
}

const INSTALL_HINT = 'Install bubblewrap (Debian/Ubuntu: sudo apt-get install bubblewrap; Fedora: sudo dnf install bubblewrap)';

/** The sandbox and policy for commands in this window, from the setting and what the machine offers. */
export async function commandSetup(o: CommandSetupOptions): Promise<CommandSetup> {
  if (o.mode === 'off') {
    return {
      mode: 'off',
      sandbox: noSandbox,
      notice: 'Commands run without an OS sandbox because ai2ai.commands.sandbox is "off": allowlisted commands run unconfined, with your user\'s rights.',
    };
  }
  const avail = o.availability ?? (await detectSandbox({ network: o.network }));
  if (avail.available) {
    const sandbox =
      avail.kind === 'bwrap'
        ? new BwrapSandbox({ bwrap: avail.path, network: o.network, hide: o.hide, home: o.home })
        : new SandboxExecSandbox({ network: o.network, hide: o.hide, home: o.home, sandboxExec: avail.path });
    return { mode: o.mode, sandbox };
  }
  if (o.mode === 'required') {
    return {
      mode: 'required',
      sandbox: noSandbox,
      refuse: `No command can run: ai2ai.commands.sandbox is "required" but no OS sandbox is available (${avail.reason}). ${INSTALL_HINT}, or change the setting.`,
    };
  }
  return {
    mode: 'auto',
    sandbox: noSandbox,
    notice: `No OS sandbox for commands on this machine (${avail.reason}), so every command an agent wants to run will ask first. ${INSTALL_HINT} to let allowlisted commands run sandboxed without asking.`,
  };
}
