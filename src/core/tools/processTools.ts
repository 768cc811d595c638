/** run_command and run_tests: authorised by workspace trust, allowlist or the user, then run bounded. */
import * as z from 'zod';
import { noSandbox } from '../sandbox/none';
import { authorizeCommand, formatCommandResult } from './commands';
import { parseTestOutput, resolveTestCommand } from './testing';
import { defineTool, failure, limitsOf, type CommandOptions, type ToolContext } from './types';

/** Where a tool's command runs: the agent's folder, inside the window's sandbox (or none, with the scrubbed environment). */
function where(ctx: ToolContext): Pick<CommandOptions, 'cwd' | 'signal' | 'sandbox' | 'readable'> {
  return { cwd: ctx.cwd, signal: ctx.signal, sandbox: ctx.commands?.sandbox ?? noSandbox, readable: ctx.sandbox.workspaceRoots };
}

export const runCommandTool = defineTool({
  name: 'run_command',
  description: 'Run a shell command in your folder (build, install, run a script). Commands not on the user\'s allowlist need the user\'s approval.',
  input: z.object({ command: z.string().trim().min(1, 'Give the command to run.').max(2000) }),
  example: { command: 'node src/index.js' },
  async execute(args, ctx) {
    const auth = await authorizeCommand(args.command, ctx);
    if (!auth.allowed) return failure(auth.message);
    const limits = limitsOf(ctx);
    const r = await ctx.runCommand(args.command, { ...where(ctx), timeoutMs: limits.commandTimeoutMs, maxOutputBytes: limits.commandOutputBytes });
    const ok = r.exitCode === 0 && !r.timedOut && !r.cancelled && !r.spawnError;
    return { ok, output: formatCommandResult(r), data: { exitCode: r.exitCode, timedOut: r.timedOut, cancelled: r.cancelled, durationMs: r.durationMs } };
  },
});

export const runTestsTool = defineTool({
  name: 'run_tests',
  description: "Run your folder's tests (the configured test command, or the one detected: npm test, node --test, pytest, go test, cargo test) and report passed/failed counts.",
  input: z.object({}),
  example: {},
  async execute(_args, ctx) {
    const found = await resolveTestCommand(ctx.cwd, ctx.testCommand);
    if (!found) {
      return failure(
        'No test command was found: write tests node --test finds (tests/*.test.js), or add a "test" script to package.json (or pytest tests, go.mod, Cargo.toml) in your folder.',
      );
    }
    // The user's own test command needs no approval; a detected one runs code the agent may have written.
    const auth = await authorizeCommand(found.command, ctx, { preapproved: found.framework === 'explicit' });
    if (!auth.allowed) return failure(auth.message);
    const limits = limitsOf(ctx);
    const r = await ctx.runCommand(found.command, { ...where(ctx), timeoutMs: limits.testTimeoutMs, maxOutputBytes: limits.commandOutputBytes });
    const summary = parseTestOutput(r.output, r.timedOut || r.cancelled ? null : r.exitCode);
    const counts =
      summary.format === 'exit_code'
        ? `Tests ${summary.ok ? 'passed' : 'failed'} (judged by exit code; no test summary recognised).`
        : `Tests: ${summary.passed} passed, ${summary.failed} failed${summary.skipped ? `, ${summary.skipped} skipped` : ''} (${summary.format}).`;
    return {
      ok: summary.ok,
      output: `${counts}\nCommand: ${found.command}\n${formatCommandResult(r)}`,
      data: { ...summary, command: found.command, exitCode: r.exitCode, timedOut: r.timedOut, cancelled: r.cancelled },
    };
  },
});
