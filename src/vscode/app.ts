/**
 * The extension's one long-lived object: it owns the log, settings, views and commands, opens the core
 * after activation has returned (sql.js is loaded then, not during activate), and disposes it all.
 */
import * as vscode from 'vscode';
import { openCore, type Core } from '../core';
import { DisposableStore } from '../core/events';
import { registerCommands } from './commands';
import { Config } from './config';
import { showError } from './errors';
import { vscodeApprovals } from './approvals';
import { AgentFlows } from './flows/agentFlows';
import { ProviderFlows } from './flows/providerFlows';
import { RunFlows } from './flows/runFlows';
import { TaskFlows } from './flows/taskFlows';
import { Prompter } from './input';
import { Log } from './log';
import { AgentsTree } from './trees/agentsTree';
import { ProvidersTree } from './trees/providersTree';
import { StatusBar } from './statusBar';
import { TaskDocuments } from './taskDocuments';
import { ChangeDocuments } from './changeDocuments';
import { TasksTree } from './trees/tasksTree';
import { Dashboard } from './dashboard';
import { Notifications } from './notifications';
import { renderDiagnosis } from '../core/app/diagnose';

/** What activate() returns: for other extensions and for the integration tests. */
export interface Ai2aiApi {
  /** Resolves when the database is open; rejects with the reason if it could not be. */
  readonly ready: Promise<Core>;
  readonly prompter: Prompter;
  readonly trees: { agents: AgentsTree; tasks: TasksTree; providers: ProvidersTree };
  readonly runs: RunFlows;
  readonly status: StatusBar;
  readonly dashboard: Dashboard;
  readonly notifications: Notifications;
  /** The last Diagnose report's Markdown (for tests). */
  readonly lastDiagnosis: string | undefined;
  readonly storageDir: string;
  /** How long activate() took, in ms (the benchmark reads it). */
  readonly activationMs: number;
}

export class App implements vscode.Disposable {
  private readonly disposables = new DisposableStore();
  private core: Core | undefined;
  private disposed = false;
  readonly api: Ai2aiApi;
  activationMs = 0;
  lastDiagnosis: string | undefined;

  constructor(private readonly context: vscode.ExtensionContext) {
    const log = this.disposables.add(new Log());
    const config = this.disposables.add(new Config(log));
    const prompter = this.disposables.add(new Prompter());
    const agents = this.disposables.add(new AgentsTree());
    const tasks = this.disposables.add(new TasksTree());
    const providers = this.disposables.add(new ProvidersTree());
    const documents = this.disposables.add(new TaskDocuments());
    const changeDocs = this.disposables.add(new ChangeDocuments());
    const status = this.disposables.add(new StatusBar());
    const dashboard = this.disposables.add(new Dashboard());
    this.disposables.add(vscode.window.createTreeView('ai2ai.agents', { treeDataProvider: agents, showCollapseAll: true }));
    this.disposables.add(vscode.window.createTreeView('ai2ai.tasks', { treeDataProvider: tasks, showCollapseAll: true }));
    this.disposables.add(vscode.window.createTreeView('ai2ai.providers', { treeDataProvider: providers }));
    void vscode.commands.executeCommand('setContext', 'ai2ai.state', 'loading');

    const runs = this.disposables.add(new RunFlows(() => ready, prompter));
    const notifications = this.disposables.add(new Notifications(() => config.settings.notifications.show, id => runs.isManual(id)));
    const ready = this.start(log, config, [agents, tasks, providers, documents, status, changeDocs, dashboard, notifications]);
    ready.catch(() => undefined); // reported in start(); commands get the same error when they await it
    const core = () => ready;
    const syncAutoRun = () => void vscode.commands.executeCommand('setContext', 'ai2ai.autoRun', config.settings.scheduler.autoRun);
    syncAutoRun();
    this.disposables.add(
      config.onDidChange(() => {
        syncAutoRun();
        // Auto-run or limits changed: decide again now.
        this.core?.scheduler.schedule();
      }),
    );
    for (const d of registerCommands({
      agents: new AgentFlows(core, prompter),
      tasks: new TaskFlows(core, prompter, changeDocs),
      runs,
      providers: new ProviderFlows(core, prompter),
      log,
      refresh: () => [agents, tasks, providers].forEach(t => t.refreshNow()),
      openDashboard: () => dashboard.open(ready),
      diagnose: () => this.diagnose(ready),
      setAutoRun: on => config.setAutoRun(on),
    })) {
      this.disposables.add(d);
    }
    const app = this;
    this.api = {
      ready,
      prompter,
      trees: { agents, tasks, providers },
      runs,
      status,
      dashboard,
      notifications,
      get lastDiagnosis() {
        return app.lastDiagnosis;
      },
      storageDir: context.globalStorageUri.fsPath,
      get activationMs() {
        return app.activationMs;
      },
    };
  }

  private async start(log: Log, config: Config, views: Array<{ attach(core: Core): void }>): Promise<Core> {
    // Let activate() return before loading sql.js and reading the database.
    await new Promise(resolve => setImmediate(resolve));
    const started = Date.now();
    try {
      const core = await openCore({
        storageDir: this.context.globalStorageUri.fsPath,
        wasmPath: this.context.asAbsolutePath('dist/sql-wasm.wasm'),
        workspaceFolders: {
          folders: () => (vscode.workspace.workspaceFolders ?? []).filter(f => f.uri.scheme === 'file').map(f => f.uri.fsPath),
        },
        settings: () => config.core(),
        approvals: vscodeApprovals,
        logger: log,
        secrets: {
          get: k => Promise.resolve(this.context.secrets.get(k)),
          set: (k, v) => Promise.resolve(this.context.secrets.store(k, v)),
          delete: k => Promise.resolve(this.context.secrets.delete(k)),
        },
      });
      if (this.disposed) {
        // Deactivated while the database was opening: close it again, or its lock and watcher would leak.
        core.dispose();
        throw new Error('AI2AI was deactivated while starting.');
      }
      this.core = core;
      views.forEach(v => v.attach(core));
      await vscode.commands.executeCommand('setContext', 'ai2ai.state', 'ready');
      log.info(`Database open in ${Date.now() - started} ms (${this.context.globalStorageUri.fsPath})`);
      // Check every provider once at start, in the background: the Providers view and the scheduler use the result.
      core.monitor.refreshDue().then(
        () => {
          for (const p of core.providers.list()) {
            const h = core.providers.lastHealth(p.id);
            if (h && !h.ok) log.warn(`[providers] ${p.name} is offline: ${h.reason}`);
          }
        },
        e => log.warn(`[providers] check failed: ${e instanceof Error ? e.message : String(e)}`),
      );
      return core;
    } catch (e) {
      await vscode.commands.executeCommand('setContext', 'ai2ai.state', 'error');
      void showError(e, log, 'Could not open the AI2AI database');
      throw e;
    }
  }

  /** Runs the checks (with progress) and opens the report as an untitled Markdown document. */
  private async diagnose(ready: Promise<Core>): Promise<vscode.TextDocument> {
    const core = await ready;
    const report = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: 'AI2AI: Diagnosing…', cancellable: true },
      async (_p, token) => {
        const ac = new AbortController();
        token.onCancellationRequested(() => ac.abort());
        return renderDiagnosis(await core.diagnose(AbortSignal.any([ac.signal, AbortSignal.timeout(15_000)])));
      },
    );
    this.lastDiagnosis = report;
    const doc = await vscode.workspace.openTextDocument({ language: 'markdown', content: report });
    await vscode.window.showTextDocument(doc, { preview: false });
    return doc;
  }

  /**
   * On deactivate (window closed or reloaded): stop the runs and wait until each has been recorded (its task
   * goes back to the queue, to be resumed), then fold the journal into the snapshot and release the files.
   */
  async close(): Promise<void> {
    this.disposed = true;
    const core = this.core;
    this.core = undefined;
    this.disposables.dispose();
    await core?.close(4000);
  }

  dispose(): void {
    void this.close();
  }
}
