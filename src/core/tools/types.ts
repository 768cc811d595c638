/**
 * The contract between the tool registry, the tools and the host. Tools never touch the file system
 * except through paths the sandbox returned, never spawn except through `runCommand`, and never ask
 * the user except through `approve`, so tests can drive every branch with plain objects.
 */
import type * as z from 'zod';
import type { ToolSpec } from '../protocol/types';
import type { CommandSandbox, CommandSetup } from '../sandbox/types';
import type { PathSandbox } from '../workspace/sandbox';

export interface CommandOptions {
  cwd: string;
  signal?: AbortSignal;
  /** Wall-clock limit; the whole process tree is killed when it passes. */
  timeoutMs?: number;
  /** Cap on captured output (bytes, per stream and combined); head and tail are kept. */
  maxOutputBytes?: number;
  /** Time between SIGTERM and SIGKILL. */
  killGraceMs?: number;
  /** Replaces the environment. Default: the host's without a sandbox; the scrubbed list (`commandEnv`) with one. */
  env?: NodeJS.ProcessEnv;
  /** Run inside this OS sandbox (its `prepare` builds the process). Without it: plain `/bin/sh -c`, as before. */
  sandbox?: CommandSandbox;
  /** Folders the sandbox keeps readable (the open workspace folders). */
  readable?: readonly string[];
}

export interface CommandResult {
  command: string;
  /** null when the process was killed by a signal or never started. */
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** stdout and stderr interleaved in arrival order, capped. */
  output: string;
  stdout: string;
  stderr: string;
  /** Bytes of combined output dropped from the middle by the cap. */
  truncatedBytes: number;
  timedOut: boolean;
  cancelled: boolean;
  durationMs: number;
  /** Set when the process could not be started (missing cwd, shell). */
  spawnError?: string;
}

export type CommandRunner = (command: string, options: CommandOptions) => Promise<CommandResult>;

export interface ToolLimits {
  /** Any tool result is clipped to this many characters (head and tail kept). */
  maxOutputChars: number;
  /** read_file shows at most this many characters per call. */
  readMaxChars: number;
  /** Files larger than this are not read (bytes). */
  maxReadBytes: number;
  /** write_file refuses larger contents (bytes). */
  maxWriteBytes: number;
  maxListEntries: number;
  maxSearchResults: number;
  /** search_files skips files larger than this (bytes) and stops after this many files. */
  maxSearchFileBytes: number;
  maxSearchFiles: number;
  /** A search_files regular expression runs at most this long (in a worker thread) before it is stopped. */
  regexTimeoutMs: number;
  commandTimeoutMs: number;
  testTimeoutMs: number;
  commandOutputBytes: number;
}

/** Sized for the target models' 4k–32k contexts: one result should not crowd out the task. */
export const DEFAULT_TOOL_LIMITS: ToolLimits = {
  maxOutputChars: 16_000,
  readMaxChars: 12_000,
  maxReadBytes: 2 * 1024 * 1024,
  maxWriteBytes: 1024 * 1024,
  maxListEntries: 400,
  maxSearchResults: 100,
  maxSearchFileBytes: 1024 * 1024,
  maxSearchFiles: 5000,
  regexTimeoutMs: 5_000,
  commandTimeoutMs: 120_000,
  testTimeoutMs: 300_000,
  commandOutputBytes: 32 * 1024,
};

export interface ToolContext {
  sandbox: PathSandbox;
  /** The agent's folder: cwd of every command. */
  cwd: string;
  signal: AbortSignal;
  runCommand: CommandRunner;
  /** Ask the user whether `command` may run (VS Code shows a dialog; tests pass a function). */
  approve(command: string, request?: ApprovalRequest): Promise<boolean>;
  /** Workspace trust: false means no command runs at all. */
  trusted: boolean;
  /** Set where no one can approve (headless): why a command off the allowlist is refused. */
  refusal?: string;
  /** Files attached to the task outside the agent's folder: writes to them become proposals (a change set). */
  proposals?: ProposalPort;
  /** Commands that run without asking, matched as executable + argument prefix ("npm test", "node"). */
  allowlist: readonly string[];
  /**
   * The OS sandbox commands run in, and the `ai2ai.commands.sandbox` mode. Without it commands run
   * unconfined and every one asks (what `auto` does where no sandbox exists).
   */
  commands?: CommandSetup;
  /** Test command set by the user for this agent or task; detected from the folder when absent. */
  testCommand?: string;
  onProgress(text: string): void;
  sendMessage(to: string, body: string): Promise<void> | void;
  /** Another agent's model answers a question in one completion (absent where asking is not possible). */
  ask?(agent: string, question: string): Promise<{ answer: string; promptTokens: number; completionTokens: number }>;
  /** Queues subtasks under this task; the run then waits for them. */
  createSubtasks?(tasks: SubtaskSpec[]): Promise<string[]> | string[];
  limits?: Partial<ToolLimits>;
}

export interface SubtaskSpec {
  title: string;
  description: string;
  skills: string[];
}

/** How far an agent may split its work: children per task, levels of nesting. */
export const SUBTASK_LIMITS = { maxChildren: 10, maxDepth: 2 };

/** What the approval dialog shows besides the command. */
export interface ApprovalRequest {
  /** Why this command asks: not on the allowlist, a flag that loads code, no sandbox… */
  why: string;
  /** Where it would run (the sandbox's description). */
  sandbox: string;
}

/**
 * The task's attached files outside the agent's folder. A path the agent names that means one of them is
 * read from and written to the change set, never the file itself: the user (or a reviewer) decides.
 */
export interface ProposalPort {
  /** The attached file (workspace-relative) a path names, if it names one. */
  match(path: string): string | undefined;
  /** What the agent sees: its own proposal if it made one, else the file (null: does not exist). */
  read(rel: string): Promise<string | null>;
  /** Records the agent's version (null: delete the file). */
  propose(rel: string, after: string | null): Promise<void>;
}

/** A tool that ends the run. 'wait': the task waits (for its subtasks) and the run resumes after. */
export type RunEnd =
  | { kind: 'complete'; result: string; verdict?: Verdict }
  | { kind: 'fail'; reason: string }
  | { kind: 'wait'; reason: string };

/** A reviewer's structured verdict (see reviewTools.ts). */
export interface Verdict {
  verdict: 'approve' | 'request_changes';
  summary: string;
  findings: Finding[];
}

export interface Finding {
  file: string;
  line?: number;
  severity: 'blocker' | 'major' | 'minor' | 'nit';
  comment: string;
}

export interface ToolResult {
  /** false when the tool refused or failed; the output then says why, for the model. */
  ok: boolean;
  /** What the model sees (bounded). */
  output: string;
  /** Structured facts for the loop and the UI (test counts, written path…). */
  data?: unknown;
  end?: RunEnd;
}

export interface ToolDefinition<S extends z.ZodObject = z.ZodObject> extends ToolSpec {
  input: S;
  execute(args: z.output<S>, ctx: ToolContext): Promise<ToolResult | string>;
}

/** Keeps each tool's `execute` typed by its own schema while the registry stores them uniformly. */
export function defineTool<S extends z.ZodObject>(def: ToolDefinition<S>): ToolDefinition {
  return def as unknown as ToolDefinition;
}

export function limitsOf(ctx: ToolContext): ToolLimits {
  return { ...DEFAULT_TOOL_LIMITS, ...ctx.limits };
}

/** A refusal or failure the model should read and act on. */
export function failure(output: string, data?: unknown): ToolResult {
  return { ok: false, output, ...(data !== undefined ? { data } : {}) };
}

/**
 * A list argument as models write it: a JSON array (native and JSON protocols), or, for small models on the
 * text protocol, one item per line, with list markers ("- ", "2. ") stripped before `parseLine`.
 */
export function jsonOrLines<T>(parseLine: (line: string) => T): (v: unknown) => unknown {
  return v => {
    if (typeof v !== 'string') return v;
    const t = v.trim();
    if (t.startsWith('[')) {
      try {
        return JSON.parse(t);
      } catch {
        // not JSON after all: read it as lines
      }
    }
    return t
      .split('\n')
      .map(l => l.replace(/^\s*(?:[-*•]|\d+[.)])\s*/, '').trim())
      .filter(Boolean)
      .map(parseLine);
  };
}
