/**
 * Runs beside the database (see `core/app/`): the runs table, the transcript files (rewritten after every
 * step so an interrupted run can resume), folder snapshots and diffs. Executing a run is the agent runner's
 * (`execute.ts`), loaded when the first run starts: only runs need the loop, the tools and the protocols.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { AgentService } from '../agents/agentService';
import type { ChangeSetService } from '../changesets/changeSetService';
import type { Claim } from '../app/claims';
import { AppError, errorMessage } from '../errors';
import { loadPart } from '../lazy';
import type { Run } from '../model/schemas';
import type { Clock, Logger, WorkspaceFolders } from '../ports';
import type { ChatMessage } from '../providers';
import type { ProviderService } from '../providers/providerService';
import { runFromRow } from '../store/rows';
import type { Store } from '../store/types';
import type { ActivityService } from '../tasks/activityService';
import type { TaskService } from '../tasks/taskService';
import type { CommandSetup } from '../sandbox/types';
import type { ApprovalRequest, SubtaskSpec, ToolRegistry } from '../tools';
import type { ReviewPolicy } from '../app/review';
import type { FolderDiff } from '../workspace/folderDiff';
import type { LoopBudgets, LoopEvent, LoopResult } from './agentLoop';
import type { RunEngine } from './execute';

/** What only the host can answer: the user's approval of a command, workspace trust, the command sandbox. */
export interface Approvals {
  /** `request` says why it asks and where the command would run (show it with `approvalText`). */
  approve(command: string, request?: ApprovalRequest): Promise<boolean>;
  trusted(): boolean;
  /** The command sandbox and mode (`commandSetup` in core/sandbox). Without it every command asks. */
  commands?(): CommandSetup | Promise<CommandSetup>;
  /** Why a command off the allowlist is refused when there is no one to ask (headless): told to the model and on the task. */
  refusal?: string;
}

/** How runs are bounded: from the host's settings (CoreSettings), never read per call by a front end. */
export interface RunSettings {
  budgets: Partial<LoopBudgets>;
  allowlist: readonly string[];
}

export interface ExecuteOptions {
  signal: AbortSignal;
  onEvent?: (e: LoopEvent) => void;
}

export interface Execution {
  /** The diff file (JSON: files, patch, before, after) of what a completed author run changed. */
  diff?: string | null;
  result?: LoopResult;
  /** Why it did not complete, for the user. */
  failure?: string;
  errorKind?: string;
  transcript: string | null;
}

/** What the user is told when a run completes without any test having run. */
export const NO_TESTS_NOTE = 'Completed without tests: none were found.';

/** Provider failures the user has to fix (not a glitch that the next run may not meet). */
export const AGENT_ERROR_KINDS = new Set(['model_not_found', 'unauthorized']);

export interface RunExecutorDeps {
  store: Store;
  agents: AgentService;
  tasks: TaskService;
  activity: ActivityService;
  providers: ProviderService;
  /** Where writes to attached files outside the agent's folder go (without it, such writes are refused). */
  changeSets?: ChangeSetService;
  clock: Clock;
  log: Logger;
  workspaceFolders: WorkspaceFolders;
  transcriptsDir: string;
  approvals: Approvals;
  settings: () => RunSettings;
  reviewPolicy?: () => ReviewPolicy;
  createSubtasks?: (taskId: string, specs: SubtaskSpec[]) => string[];
  tools?: ToolRegistry;
}

/**
 * A claimed run's executor and the record of runs. `execute` hands the run to the agent runner (probe the
 * model, build the prompt or resume the interrupted conversation, run the agent loop, record every step as a
 * task update, keep the transcript current). It changes no status: claiming and finishing are the
 * application layer's single mutations.
 */
export class RunExecutor {
  private engine: Promise<RunEngine> | undefined;
  private loaded: RunEngine | undefined;

  constructor(private readonly d: RunExecutorDeps) {}

  list(taskId?: string): Run[] {
    const rows = taskId
      ? this.d.store.read.all('SELECT * FROM runs WHERE task_id = ? ORDER BY started_at, rowid', [taskId])
      : this.d.store.read.all('SELECT * FROM runs ORDER BY started_at, rowid');
    return rows.map(runFromRow);
  }

  get(runId: string): Run | undefined {
    const row = this.d.store.read.get('SELECT * FROM runs WHERE id = ?', [runId]);
    return row && runFromRow(row);
  }


  transcriptPath(runId: string): string {
    return path.join(this.d.transcriptsDir, runFileName(runId));
  }

  /** A run's whole transcript file (conversation and events), if it can be read. */
  readTranscriptFile(runId: string): { messages: ChatMessage[]; events: LoopEvent[] } | undefined {
    try {
      const data = JSON.parse(fs.readFileSync(this.transcriptPath(runId), 'utf8')) as { messages?: ChatMessage[]; events?: LoopEvent[] };
      return { messages: Array.isArray(data.messages) ? data.messages : [], events: Array.isArray(data.events) ? data.events : [] };
    } catch {
      return undefined;
    }
  }

  /** The conversation an interrupted run left in its transcript, if it can be read. */
  readTranscript(runId: string): ChatMessage[] | undefined {
    try {
      const data = JSON.parse(fs.readFileSync(this.transcriptPath(runId), 'utf8')) as { messages?: ChatMessage[] };
      return Array.isArray(data.messages) && data.messages.length > 1 ? data.messages : undefined;
    } catch {
      return undefined;
    }
  }

  /**
   * Executes a claimed run and says how it ended; never throws (a runner that cannot be loaded ends the run
   * with the reason, and the next run tries to load it again).
   */
  async execute(claim: Claim, opts: ExecuteOptions): Promise<Execution> {
    let engine: RunEngine;
    try {
      engine = await (this.engine ??= loadPart('the agent runner', () => import('./execute')).then(
        m => (this.loaded = new m.RunEngine(this.d, this)),
        e => {
          this.engine = undefined;
          throw e;
        },
      ));
    } catch (e) {
      this.d.log.error(`[run] ${errorMessage(e)}`);
      return { failure: errorMessage(e), errorKind: 'internal', transcript: null };
    }
    return engine.execute(claim, opts);
  }

  /** Per-run bookkeeping ends with the run. */
  forgetRun(runId: string): void {
    this.loaded?.forgetRun(runId);
  }

  /** Drops a run's folder snapshot (kept only while a run may still resume). */
  discardSnapshot(runId: string): void {
    fs.rmSync(path.join(this.d.transcriptsDir, '..', 'snapshots', runFileName(runId)), { force: true });
  }

  /** A run's recorded diff, if its file can be read. */
  readDiff(file: string): FolderDiff | undefined {
    try {
      return JSON.parse(fs.readFileSync(file, 'utf8')) as FolderDiff;
    } catch {
      return undefined;
    }
  }
}

/**
 * A run's file name beside the database. Run ids are ours (UUIDs), but one may come from an API request or a
 * damaged row: anything that is not a plain id is refused, so no name can reach outside the folder.
 */
export function runFileName(runId: string): string {
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(runId)) throw new AppError('validation', `"${runId.slice(0, 80)}" is not a run id.`);
  return `${runId}.json`;
}
