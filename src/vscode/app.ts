/**
 * The extension's one long-lived object: it owns the log, settings, views and commands, opens the core
 * after activation has returned (sql.js is loaded then, not during activate), and disposes it all.
 */
import * as vscode from 'vscode';
import { openCore, type Core } from '../core';
import { DisposableStore } from '../core/events';
import { registerCommands } from './commands';
import { CommandSandboxes } from './commandSandbox';
import { Config } from './config';
import { showError } from './errors';
import { vscodeApprovals } from './approvals';
import { ApiHost } from './apiHost';
import { ChangeReview } from './changeReview';
import { AssignCodeLens } from './codeLens';
import { FileFlows } from './flows/fileFlows';
import { VsCodeLmProvider } from './lmProvider';
import { AgentFlows } from './flows/agentFlows';
import { ProviderFlows } from './flows/providerFlows';
import { RunFlows } from './flows/runFlows';
import { TaskFlows } from './flows/taskFlows';
import { Prompter } from './input';
import { Log } from './log';
import { AgentsTree } from './trees/agentsTree';
import { ProvidersTree } from './trees/providersTree';
import { StatusBar } from './statusBar';
import { ChangeDocuments } from './changeDocuments';
import { TaskPanels } from './taskPanel/panel';
import { TranscriptDocuments } from './transcripts';
import { TasksTree, type TaskNode } from './trees/tasksTree';
import { Dashboard } from './dashboard';
import { Notifications } from './notifications';
import { loadPart } from '../core/lazy';

/** What activate() returns: for other extensions and for the integration tests. */
export interface Ai2aiApi {
  /** Resolves when the database is open; rejects with the reason if it could not be. */
  readonly ready: Promise<Core>;
  readonly prompter: Prompter;
  readonly trees: { agents: AgentsTree; tasks: TasksTree; providers: ProvidersTree };
  /** The Tasks view itself (its selection shows which task was revealed). */
  readonly taskView: vscode.TreeView<TaskNode>;
  /** Open task details views. */
  readonly panels: TaskPanels;
  readonly runs: RunFlows;
  readonly status: StatusBar;
  /** The local API (off unless ai2ai.api.enabled). */
  readonly api: ApiHost;
  readonly codeLens: AssignCodeLens;
  readonly changes: ChangeReview;
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
  private readonly sandboxes: CommandSandboxes;
  private apiHost: ApiHost | undefined;
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
    const transcripts = this.disposables.add(new TranscriptDocuments(prompter));
    const panels = this.disposables.add(new TaskPanels(log, vscode.Uri.joinPath(context.extensionUri, 'media', 'ai2ai.svg')));
    const changeDocs = this.disposables.add(new ChangeDocuments());
    const status = this.disposables.add(new StatusBar());
    const dashboard = this.disposables.add(new Dashboard());
    this.disposables.add(vscode.window.createTreeView('ai2ai.agents', { treeDataProvider: agents, showCollapseAll: true }));
    const taskView = this.disposables.add(vscode.window.createTreeView('ai2ai.tasks', { treeDataProvider: tasks, showCollapseAll: true }));
    tasks.setView(taskView, log);
    this.disposables.add(vscode.window.createTreeView('ai2ai.providers', { treeDataProvider: providers }));
    void vscode.commands.executeCommand('setContext', 'ai2ai.state', 'loading');

    this.sandboxes = this.disposables.add(new CommandSandboxes(config, log, context.globalStorageUri.fsPath, n => status.setCommandNotice(n)));
    const api = this.disposables.add(new ApiHost(context, config, log));
    this.apiHost = api;
    const codeLens = this.disposables.add(new AssignCodeLens(config));
    // Called only after `ready` exists (commands run after the constructor).
    const changes = this.disposables.add(new ChangeReview(() => ready, prompter));
    // `runs` is read only once the database is open, after the constructor.
    const notifications = this.disposables.add(new Notifications(() => config.settings.notifications.show, id => runs.isManual(id)));
    const ready = this.start(log, config, [agents, tasks, providers, transcripts, status, changeDocs, api, codeLens, changes, dashboard, notifications]);
    ready.catch(() => undefined); // reported in start(); commands get the same error when they await it
    const core = () => ready;
    const runs = this.disposables.add(new RunFlows(core, prompter));
    // Probe once the database is open, so the status bar says early when commands would run unconfined.
    ready.then(() => this.sandboxes.setup(), () => undefined);
    const syncAutoRun = () => void vscode.commands.executeCommand('setContext', 'ai2ai.autoRun', config.settings.scheduler.autoRun);
    // After activate() returns, as the CodeLens registration: the first settings read is activation's slowest step.
    const soon = setImmediate(syncAutoRun);
    this.disposables.add({ dispose: () => clearImmediate(soon) });
    this.disposables.add(
      config.onDidChange(() => {
        syncAutoRun();
        // Auto-run or limits changed: decide again now.
        this.core?.scheduler.schedule();
      }),
    );
    for (const d of registerCommands({
      agents: new AgentFlows(core, prompter),
      tasks: new TaskFlows(core, prompter, panels, changeDocs),
      runs,
      providers: new ProviderFlows(core, prompter),
      log,
      refresh: () => [agents, tasks, providers].forEach(t => t.refreshNow()),
      openDashboard: () => dashboard.open(ready),
      diagnose: () => this.diagnose(ready),
      setAutoRun: on => config.setAutoRun(on),
      showTranscript: async runId => transcripts.show(await ready, runId),
      api,
      files: new FileFlows(core, prompter),
      changes,
    })) {
      this.disposables.add(d);
    }
    const app = this;
    this.api = {
      ready,
      prompter,
      trees: { agents, tasks, providers },
      taskView,
      panels,
      runs,
      status,
      api,
      codeLens,
      changes,
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
        approvals: vscodeApprovals(this.sandboxes),
        hostProviders: { vscode: () => new VsCodeLmProvider() },
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
      // Check every provider once at start, in the background, through the monitor: the views show the
      // result, and an offline provider is re-checked until it is back.
      for (const p of core.providers.list()) {
        core.app.checkProvider(p.id).then(
          h => !h.ok && log.warn(`[providers] ${p.name} is offline: ${h.reason}`),
          e => log.warn(`[providers] ${p.name} check failed: ${e instanceof Error ? e.message : String(e)}`),
        );
      }
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
        const d = await core.diagnose(AbortSignal.any([ac.signal, AbortSignal.timeout(15_000)]));
        return (await loadPart('Diagnose', () => import('../core/app/diagnose'))).renderDiagnosis(d);
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
    // The API first, so no request reaches a closing core.
    await this.apiHost?.close();
    this.disposables.dispose();
    await core?.close(4000);
  }

  dispose(): void {
    void this.close();
  }
}
