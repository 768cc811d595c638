/**
 * The core container: opens the store and builds the services over it. The VS Code adapter, the API
 * server, tests and scripts all start here; none of this knows about VS Code.
 */
import * as path from 'node:path';
import { AgentService } from './agents/agentService';
import { ChangeBus } from './changes';
import { DisposableStore, type Disposable } from './events';
import { nullLogger, systemClock, type Clock, type Logger, type WorkspaceFolders } from './ports';
import { openStore } from './store/sqlite';
import type { Store } from './store/types';
import { RunService } from './loop/runService';
import { ProviderService, type SecretStore } from './providers/providerService';
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
}

export interface CoreSettings extends AgentWorkspaceSettings {
  durableWrites: boolean;
  compactAfterBytes: number;
}

export interface Core extends Disposable {
  readonly store: Store;
  readonly changes: ChangeBus;
  readonly agents: AgentService;
  readonly tasks: TaskService;
  readonly activity: ActivityService;
  readonly workspaces: AgentWorkspaces;
  readonly providers: ProviderService;
  readonly runs: RunService;
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
  // Another window's journal lines carry SQL, not domain events: tell every view to re-read.
  disposables.add(
    store.onDidChange(c => {
      if (c.origin !== 'local') changes.fire({ entity: 'all', op: 'reload', origin: 'external' }, e => log.error('change listener failed', e));
    }),
  );
  const workspaces = new AgentWorkspaces(opts.fs ?? nodeFileSystem, opts.workspaceFolders, opts.settings);
  const agents = new AgentService(store, workspaces, changes, clock, log);
  const tasks = new TaskService(store, changes, clock, log);
  const activity = new ActivityService(store, changes, clock);
  const providers = new ProviderService(store, changes, clock, log, opts.secrets);
  const runs = new RunService({
    store, agents, tasks, activity, providers, changes, clock, log,
    workspaceFolders: opts.workspaceFolders,
    transcriptsDir: path.join(opts.storageDir, 'transcripts'),
  });
  try {
    runs.recoverInterrupted();
  } catch (e) {
    log.error(`Could not recover interrupted runs: ${e instanceof Error ? e.message : String(e)}`);
  }
  return {
    store,
    changes,
    workspaces,
    agents,
    tasks,
    activity,
    providers,
    runs,
    dispose() {
      disposables.dispose();
      store.close();
    },
  };
}
