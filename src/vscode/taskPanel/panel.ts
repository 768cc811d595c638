/**
 * Task details as a webview panel per task: titled by the task, a normal (pinned) editor tab, live from the
 * change feed (re-rendered at most every RENDER_MS), rendered from `core.app.taskDetails`. Its buttons send
 * an action and an id; the panel runs the extension's own commands with that id, so every rule stays in
 * the commands and the application layer. The HTML renderer (`render.ts`) is loaded when the first panel
 * opens (dist/taskPanel.js): a window that never opens one does not load it.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { touchesTask } from '../../core/changes';
import { errorMessage } from '../../core/errors';
import { loadPart } from '../../core/lazy';
import type { Logger } from '../../core/ports';
import type { PanelAction } from './render';

type Renderer = typeof import('./render');

export const TASK_PANEL_TYPE = 'ai2ai.taskDetails';
/** Live, but not more than this often: a run writes updates in bursts. */
export const RENDER_MS = 250;

const COMMAND: Record<PanelAction, string> = {
  run: 'ai2ai.runTask',
  cancel: 'ai2ai.cancelTask',
  retry: 'ai2ai.retryTask',
  reassign: 'ai2ai.assignTask',
  openFolder: 'ai2ai.openAgentWorkspace',
  transcript: 'ai2ai.showTranscript',
  approve: 'ai2ai.approveTask',
  requestChanges: 'ai2ai.requestChanges',
  showChanges: 'ai2ai.showChanges',
};

class TaskPanel implements vscode.Disposable {
  /** The body last rendered, and how many renders: what tests read (the webview's DOM is out of reach). */
  body = '';
  renders = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private dirty = false;
  private readonly subs: vscode.Disposable[] = [];

  constructor(
    readonly taskId: string,
    readonly panel: vscode.WebviewPanel,
    private readonly core: Core,
    private readonly log: Logger,
    private readonly html: Renderer,
    onDispose: () => void,
  ) {
    this.body = this.renderBody();
    panel.webview.html = html.renderTaskPage({ nonce: randomBytes(16).toString('base64'), title: this.title(), body: this.body });
    this.subs.push(
      core.changes.event(c => {
        if (touchesTask(c, taskId) || c.changes.some(x => x.entity === 'agent' || x.entity === 'provider')) this.schedule();
      }),
      core.scheduler.onDidChangeQueue(() => this.schedule()),
      panel.webview.onDidReceiveMessage(m => void this.receive(m)),
      panel.onDidChangeViewState(() => panel.visible && this.dirty && this.schedule()),
      panel.onDidDispose(() => {
        this.dispose();
        onDispose();
      }),
    );
  }

  /** Throttled: the first change renders after RENDER_MS, changes meanwhile ride along. */
  schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.render();
    }, RENDER_MS);
  }

  render(): void {
    if (!this.panel.visible) {
      this.dirty = true; // rendered when shown again
      return;
    }
    this.dirty = false;
    this.body = this.renderBody();
    this.panel.title = this.title();
    void this.panel.webview.postMessage({ type: 'render', html: this.body });
  }

  private renderBody(): string {
    this.renders++;
    if (!this.core.tasks.find(this.taskId)) return '<h1>This task no longer exists</h1><p>It was deleted, here or in another window.</p>';
    return this.html.renderTaskBody(this.core.app.taskDetails(this.taskId));
  }

  private title(): string {
    return this.core.tasks.find(this.taskId)?.title ?? 'Deleted task';
  }

  /** A button in the page: checked (the page is untrusted input), then the command with the id. */
  async receive(m: unknown): Promise<unknown> {
    const msg = m as { action?: unknown; id?: unknown };
    if (msg?.action === 'ready') return this.render();
    if (typeof msg?.action !== 'string' || !Object.hasOwn(COMMAND, msg.action) || typeof msg.id !== 'string' || msg.id.length > 64) return undefined;
    try {
      return await vscode.commands.executeCommand(COMMAND[msg.action as PanelAction], msg.id);
    } catch (e) {
      this.log.warn(`[task view] ${msg.action} failed: ${errorMessage(e)}`);
      return undefined;
    }
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subs.forEach(s => s.dispose());
  }
}

export class TaskPanels implements vscode.Disposable {
  private readonly open = new Map<string, TaskPanel>();
  private html: Renderer | undefined;

  constructor(private readonly log: Logger, private readonly iconPath?: vscode.Uri) {}

  /** Opens the task's panel, or brings the open one forward. */
  async show(core: Core, taskId: string): Promise<vscode.WebviewPanel> {
    const html = (this.html ??= await loadPart('the task view', () => import('./render')));
    const existing = this.open.get(taskId);
    if (existing) {
      existing.panel.reveal(undefined, false);
      return existing.panel;
    }
    const task = core.tasks.get(taskId);
    const panel = vscode.window.createWebviewPanel(
      TASK_PANEL_TYPE,
      task.title,
      { viewColumn: vscode.ViewColumn.Active, preserveFocus: false },
      // Scripts only for the buttons; no local or remote resources at all; command URIs off.
      { enableScripts: true, enableCommandUris: false, localResourceRoots: [], retainContextWhenHidden: false, enableFindWidget: true },
    );
    if (this.iconPath) panel.iconPath = this.iconPath;
    this.open.set(taskId, new TaskPanel(taskId, panel, core, this.log, html, () => this.open.delete(taskId)));
    return panel;
  }

  /** The open panel of a task (tests read its last body and send it button presses). */
  get(taskId: string): { panel: vscode.WebviewPanel; body: string; renders: number; press(action: PanelAction, id: string): Promise<unknown> } | undefined {
    const p = this.open.get(taskId);
    return p && { panel: p.panel, body: p.body, renders: p.renders, press: (action, id) => p.receive({ action, id }) };
  }

  dispose(): void {
    for (const p of [...this.open.values()]) p.panel.dispose();
    this.open.clear();
  }
}
