/**
 * The core container: opens the store and builds the services over it. The VS Code adapter, the API
 * server, tests and scripts all start here; none of this knows about VS Code.
 */
import * as path from 'node:path';
import { AgentService } from './agents/agentService';
import { ChangeSetService } from './changesets/changeSetService';
import { ChangeBus, type CoreChange } from './changes';
import { DisposableStore, type Disposable } from './events';
import { nullLogger, systemClock, type Clock, type Logger, type WorkspaceFolders } from './ports';
import { openStore } from './store/sqlite';
import type { Store } from './store/types';
import { RunExecutor, type Approvals } from './loop/runService';
import type { LoopBudgets } from './loop/agentLoop';
import { Application } from './app/application';
import { DEFAULT_SCHEDULER, RunManager, type SchedulerSettings } from './app/runManager';
import { DEFAULT_REVIEW, type ReviewPolicy } from './app/review';
import { createSubtasksTx } from './app/subtasks';
import { slotsInUse } from './app/claims';
import { detectSandbox } from './sandbox/detect';
import { StatsService } from './app/stats';
import type { Diagnosis } from './app/diagnose';
import { loadPart } from './lazy';
import { ProviderMonitor } from './scheduling/providerMonitor';
import { Scheduler } from './scheduling/scheduler';
import { ProviderService, type HostProviders, type ProviderTimeouts, type SecretStore } from './providers/providerService';
import { ActivityService } from './tasks/activityService';
import { TaskService } from './tasks/taskService';
import { AgentWorkspaces, type AgentWorkspaceSettings } from './workspace/agentWorkspace';
import { nodeFileSystem, type FileSystemPort } from './workspace/fs';

export interface CoreOptions {
  /** Folder for the database files (the extension's globalStorage). */
  storageDir: string;
  /** Path of sql-wasm.wasm. */
  wasmPath: string;
  workspaceFolders: WorkspaceFolders;
  settings: () => CoreSettings;
  logger?: Logger;
  clock?: Clock;
  fs?: FileSystemPort;
  /** Watch for other windows' changes (default true). */
  watch?: boolean;
  /** Where API keys live (VS Code SecretStorage); without it, keys cannot be set. */
  secrets?: SecretStore;
  /** Clients for provider kinds only the host can serve (VS Code's own chat models). */
  hostProviders?: HostProviders;
  /** Asking the user before a command off the allowlist runs; without it, such commands are refused. */
  approvals?: Approvals;
  /** Start the scheduler's timer (default true; tests of single parts may turn it off). */
  schedule?: boolean;
  /** Scheduler timer period (default a third of the lease). */
  tickMs?: number;
}

export interface CoreSettings extends AgentWorkspaceSettings {
  durableWrites: boolean;
  compactAfterBytes: number;
  /** Run budgets (an agent's own max steps still wins). */
  budgets?: Partial<LoopBudgets>;
  /** Commands that run without asking. */
  allowlist?: readonly string[];
  scheduler?: Partial<SchedulerSettings>;
  review?: Partial<ReviewPolicy>;
  /** A reviewer agent's approval applies the task's proposed changes to files outside the agent's folder. */
  applyChangesOnApproval?: boolean;
  /** Model-server timeouts (first token, idle between pieces); the providers' defaults when unset. */
  providers?: ProviderTimeouts;
}

/** Without a host to ask, nothing off the allowlist runs. */
export const refuseApprovals: Approvals = {
  approve: () => Promise.resolve(false),
  trusted: () => true,
  refusal: 'it is not on the allowlist of commands, and no one is here to approve it (AI2AI runs without an editor; its operator can allow such commands with --allow-commands).',
};

export interface Core extends Disposable {
  readonly store: Store;
  readonly changes: ChangeBus;
  readonly agents: AgentService;
  readonly tasks: TaskService;
  readonly activity: ActivityService;
  readonly workspaces: AgentWorkspaces;
  readonly providers: ProviderService;
  /** Agents' proposed changes to attached files outside their folders: list, diff, accept, reject. */
  readonly changeSets: ChangeSetService;
  /** Executes claimed runs; lists runs. */
  readonly executor: RunExecutor;
  /** This process's runs: start, the one cancel, leases. */
  readonly runs: RunManager;
  readonly monitor: ProviderMonitor;
  readonly scheduler: Scheduler;
  /** The application layer: what every front end calls. */
  readonly app: Application;
  /** The team's figures (the dashboard; the API's `/v1/stats`). */
  readonly stats: StatsService;
  /** "AI2AI: Diagnose": providers, database, sandbox, folders, with what to fix. */
  diagnose(signal: AbortSignal): Promise<Diagnosis>;
  /** Stops every run (waiting up to `timeoutMs` until each is recorded), then closes the store. */
  close(timeoutMs?: number): Promise<void>;
}

export async function openCore(opts: CoreOptions): Promise<Core> {
  const log = opts.logger ?? nullLogger;
  const clock = opts.clock ?? systemClock;
  const settings = opts.settings();
  const store = await openStore(
    {
      dir: opts.storageDir,
      wasmPath: opts.wasmPath,
      durable: settings.durableWrites,
      compactAfterBytes: settings.compactAfterBytes,
      watch: opts.watch,
    },
    log,
  );
  const disposables = new DisposableStore();
  const changes = disposables.add(new ChangeBus());
  // Every committed mutation, here or in another window, with exactly what it changed.
  disposables.add(store.onDidChange(c => changes.fire({ seq: c.seq, origin: c.origin, changes: c.changes as CoreChange['changes'] }, e => log.error('change listener failed', e))));
  const workspaces = new AgentWorkspaces(opts.fs ?? nodeFileSystem, opts.workspaceFolders, opts.settings);
  const agents = new AgentService(store, workspaces, clock, log);
  const tasks = new TaskService(store, clock, log);
  const activity = new ActivityService(store, clock);
  const providers = new ProviderService(store, clock, log, opts.secrets, () => opts.settings().providers ?? {}, opts.hostProviders);
  const changeSets = new ChangeSetService(store, opts.workspaceFolders, clock, log);
  const schedulerSettings = (): SchedulerSettings => ({ ...DEFAULT_SCHEDULER, ...opts.settings().scheduler });
  const reviewPolicy = (): ReviewPolicy => ({ ...DEFAULT_REVIEW, ...opts.settings().review });
  const executor = new RunExecutor({
    store, agents, tasks, activity, providers, changeSets, clock, log,
    workspaceFolders: opts.workspaceFolders,
    transcriptsDir: path.join(opts.storageDir, 'transcripts'),
    approvals: opts.approvals ?? refuseApprovals,
    reviewPolicy,
    createSubtasks: (taskId, specs) => store.mutate(tx => createSubtasksTx(tx, taskId, specs, clock.now())),
    settings: () => {
      const s = opts.settings();
      return { budgets: s.budgets ?? {}, allowlist: s.allowlist ?? [] };
    },
  });
  const monitor = disposables.add(new ProviderMonitor(providers, clock, log));
  const runs = disposables.add(new RunManager({ store, changes, executor, monitor, clock, log, settings: schedulerSettings, review: reviewPolicy }));
  const scheduler = disposables.add(new Scheduler({ store, tasks, agents, runs, monitor, changes, clock, log, settings: schedulerSettings, tickMs: opts.tickMs }));
  const app = new Application({ store, clock, agents, tasks, activity, providers, executor, runs, scheduler, monitor, changeSets, review: reviewPolicy });
  // An agent stopped by its provider (model missing, refused) is ready again once the provider serves its model.
  disposables.add(monitor.onDidChange(id => app.reconcileAgents(id)));
  // A reviewer agent's approval may apply the task's change set (after the verdict's mutation, never inside it).
  disposables.add(
    changes.event(c => {
      if (c.origin !== 'local' || !opts.settings().applyChangesOnApproval) return;
      for (const x of c.changes) if (x.entity === 'review' && x.op === 'created') app.applyOnApproval(x.id);
    }),
  );
  const stats = disposables.add(new StatsService({ db: store.read, clock, agents: () => agents.list(), providers: () => providers.list(), monitor, runs }));
  try {
    // Runs whose window died (lease lapsed) go back to the queue before anything else looks at the board.
    runs.expireLeases();
  } catch (e) {
    log.error(`Could not return interrupted runs to the queue: ${e instanceof Error ? e.message : String(e)}`);
  }
  if (opts.schedule !== false) scheduler.start();
  let closed: Promise<void> | undefined;
  const close = (timeoutMs?: number) =>
    (closed ??= (async () => {
      scheduler.dispose();
      await runs.shutdown(timeoutMs);
      disposables.dispose();
      store.close();
    })());
  return {
    store,
    changes,
    workspaces,
    agents,
    tasks,
    activity,
    providers,
    changeSets,
    executor,
    runs,
    monitor,
    scheduler,
    app,
    stats,
    diagnose: async signal =>
      (await loadPart('Diagnose', () => import('./app/diagnose'))).diagnose(
        {
          store, providers, agents, workspaceFolders: opts.workspaceFolders, now: () => clock.now(),
          slotsInUse: (providerId, model) => slotsInUse(store.read, providerId, model),
          detectSandbox,
        },
        signal,
      ),
    close,
    dispose() {
      // Synchronous, for hosts that cannot wait: runs are stopped but not waited for (their leases lapse and
      // the next start resumes them). Prefer close().
      if (closed) return;
      closed = Promise.resolve();
      scheduler.dispose();
      disposables.dispose();
      store.close();
    },
  };
}
