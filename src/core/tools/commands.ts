/**
 * Running commands for agents: a shell command in the agent's folder, in its own process group, with a
 * timeout, an output cap and a kill of the whole tree on cancel or timeout. No process outlives its
 * command: when the shell exits, anything it left running in the background is terminated too, both
 * so nothing leaks and because a leftover child holding the output pipe would keep us waiting. Inside
 * an OS sandbox (`options.sandbox`, see core/sandbox) the kernel enforces that for daemons that left
 * the process group too (a pid namespace that dies with the command).
 *
 * Policy (who may run what) is separate from mechanism: `authorizeCommand` refuses everything in an
 * untrusted workspace, lets allowlisted commands through when they run sandboxed (or the user turned the
 * sandbox off) and asks the user about the rest.
 */
import { spawn } from 'node:child_process';
import { commandEnv } from '../sandbox/env';
import { noSandbox } from '../sandbox/none';
import type { PreparedCommand } from '../sandbox/types';
import { checkAllowlist } from './allowlist';
import { parseShellCommand } from './shell';
import type { ToolContext, CommandOptions, CommandResult, CommandRunner } from './types';
import { DEFAULT_TOOL_LIMITS } from './types';
import { CappedBuffer } from './output';

const DEFAULT_GRACE_MS = 2000;

function killTree(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    if (process.platform === 'win32') {
      // No process groups on Windows: taskkill /T walks the tree.
      spawn('taskkill', ['/pid', String(pid), '/T', '/F'], { stdio: 'ignore', windowsHide: true }).on('error', () => {});
    } else {
      process.kill(-pid, signal); // negative pid: the whole process group (we spawned it detached)
    }
  } catch {
    // ESRCH: the group is already gone, which is what we wanted.
  }
}

export const runCommand: CommandRunner = (command: string, options: CommandOptions): Promise<CommandResult> => {
  const started = Date.now();
  const cap = options.maxOutputBytes ?? DEFAULT_TOOL_LIMITS.commandOutputBytes;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TOOL_LIMITS.commandTimeoutMs;
  const grace = options.killGraceMs ?? DEFAULT_GRACE_MS;
  const out = new CappedBuffer(cap);
  const err = new CappedBuffer(cap);
  const all = new CappedBuffer(cap);

  const result = (over: Partial<CommandResult>): CommandResult => ({
    command,
    exitCode: null,
    signal: null,
    output: all.text(),
    stdout: out.text(),
    stderr: err.text(),
    truncatedBytes: all.droppedBytes,
    timedOut: false,
    cancelled: false,
    durationMs: Date.now() - started,
    ...over,
  });

  if (options.signal?.aborted) return Promise.resolve(result({ cancelled: true }));

  const isWin = process.platform === 'win32';
  let prepared: PreparedCommand | undefined;
  if (options.sandbox && !(isWin && options.sandbox.kind === 'none')) {
    const env = (options.env as Record<string, string> | undefined) ?? commandEnv(process.env, { network: options.sandbox.network });
    try {
      prepared = options.sandbox.prepare({ command, cwd: options.cwd, env, readable: options.readable });
    } catch (e) {
      return Promise.resolve(result({ spawnError: `the sandbox could not be prepared: ${(e as Error).message}` }));
    }
  }

  return new Promise<CommandResult>(resolve => {
    const child = prepared
      ? spawn(prepared.file, prepared.args, { cwd: prepared.cwd, detached: true, env: prepared.env, stdio: ['ignore', 'pipe', 'pipe'] })
      : isWin
        ? spawn(command, { cwd: options.cwd, shell: true, windowsHide: true, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] })
        : spawn('/bin/sh', ['-c', command], { cwd: options.cwd, detached: true, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });

    let timedOut = false;
    let cancelled = false;
    let exitCode: number | null = null;
    let exitSignal: NodeJS.Signals | null = null;
    let settled = false;
    const timers: NodeJS.Timeout[] = [];

    const terminate = () => {
      killTree(child.pid, 'SIGTERM');
      timers.push(setTimeout(() => killTree(child.pid, 'SIGKILL'), grace));
    };
    const onAbort = () => {
      cancelled = true;
      terminate();
    };
    const finish = (over: Partial<CommandResult> = {}) => {
      if (settled) return;
      settled = true;
      timers.forEach(clearTimeout);
      options.signal?.removeEventListener('abort', onAbort);
      prepared?.dispose();
      resolve(result({ exitCode, signal: exitSignal, timedOut, cancelled, ...over }));
    };

    timers.push(
      setTimeout(() => {
        timedOut = true;
        terminate();
      }, timeoutMs),
    );
    options.signal?.addEventListener('abort', onAbort, { once: true });

    child.stdout!.on('data', (b: Buffer) => {
      out.push(b);
      all.push(b);
    });
    child.stderr!.on('data', (b: Buffer) => {
      err.push(b);
      all.push(b);
    });
    child.on('error', e => finish({ spawnError: e.message }));
    child.on('exit', (code, sig) => {
      exitCode = code;
      exitSignal = sig;
      // Background children of the shell: stop them so they neither outlive the command nor hold the pipes.
      terminate();
      // A descendant that left our process group can still hold the pipe; do not wait for it forever.
      timers.push(
        setTimeout(() => {
          child.stdout?.destroy();
          child.stderr?.destroy();
          finish();
        }, grace + 500),
      );
    });
    child.on('close', () => finish());
  });
};

/**
 * The words of a command line exactly as POSIX sh reads them, or undefined when it uses anything but
 * plain words and quotes (see `parseShellCommand`).
 */
export function shellWords(command: string): string[] | undefined {
  const p = parseShellCommand(command);
  return p.ok ? p.argv : undefined;
}

export type Authorization = { allowed: true; how: 'allowlist' | 'approved' | 'preapproved' } | { allowed: false; message: string };

const DO_NOT_RETRY = 'Do not try other commands; continue without running anything, or use fail to say what you need.';

/**
 * May `command` run? Untrusted workspace, or a `required` sandbox that is missing: never. Where commands
 * run confined (or the user turned the sandbox off), allowlisted commands and `preapproved` ones (the
 * user's own test command) run; everything else asks. Where no sandbox confines them (`auto` on a
 * machine without one, or no setup given), every command asks.
 */
export async function authorizeCommand(command: string, ctx: ToolContext, options: { preapproved?: boolean } = {}): Promise<Authorization> {
  if (!ctx.trusted) {
    return { allowed: false, message: `Commands cannot run: this workspace is not trusted. ${DO_NOT_RETRY}` };
  }
  const setup = ctx.commands;
  if (setup?.refuse) return { allowed: false, message: `${setup.refuse} ${DO_NOT_RETRY}` };
  const sandbox = setup?.sandbox ?? noSandbox;
  const askAlways = !sandbox.confined && setup?.mode !== 'off';
  let why: string;
  if (askAlways) {
    why = 'no OS sandbox confines commands here, so every command asks';
  } else {
    if (options.preapproved) return { allowed: true, how: 'preapproved' };
    const verdict = checkAllowlist(command, ctx.allowlist);
    if (verdict.match) return { allowed: true, how: 'allowlist' };
    why = verdict.why;
  }
  const approved = await ctx.approve(command, { why, sandbox: sandbox.describe() });
  if (!approved && ctx.refusal) {
    return { allowed: false, message: `The command "${command}" was refused: ${ctx.refusal} ${DO_NOT_RETRY}` };
  }
  if (!approved) {
    return {
      allowed: false,
      message: `The user did not allow the command "${command}". Do not run it again; continue without it or choose a different approach.`,
    };
  }
  return { allowed: true, how: 'approved' };
}

/** A command result as the model should read it. */
export function formatCommandResult(r: CommandResult): string {
  const secs = (r.durationMs / 1000).toFixed(1);
  let status: string;
  if (r.spawnError) status = `The command could not start: ${r.spawnError}.`;
  else if (r.timedOut) status = `The command timed out after ${secs}s and was stopped.`;
  else if (r.cancelled) status = `The command was cancelled after ${secs}s.`;
  else if (r.exitCode !== null) status = `Exit code ${r.exitCode} after ${secs}s.`;
  else status = `The command was killed by ${r.signal ?? 'a signal'} after ${secs}s.`;
  const body = r.output.trim() ? `\n${r.output.replace(/\s+$/, '')}` : '\n(no output)';
  return `${status}${body}`;
}
