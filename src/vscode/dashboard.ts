/**
 * The dashboard webview: one panel, rendered from `core.stats` and refreshed from the change feed (and the
 * providers' and runs' live events), at most every 500 ms. Export opens the figures as an untitled CSV or
 * JSON document; the user saves it where they like. The HTML renderer is loaded when the dashboard first
 * opens (dist/dashboard.js): a window that never opens it does not load it.
 */
import * as crypto from 'node:crypto';
import * as vscode from 'vscode';
import type { Core } from '../core';
import { statsToCsv } from '../core/app/stats';
import { loadPart } from '../core/lazy';

type Renderer = typeof import('./dashboardHtml');

const THROTTLE_MS = 500;

export class Dashboard implements vscode.Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private core: Core | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  private lastRender = 0;
  private renderMs = 0;
  private seq = 0;
  private html: Renderer | undefined;
  private readonly renderedEmitter = new vscode.EventEmitter<number>();
  /** Fires each time the page has shown a new body (for tests: the panel really updated). */
  readonly onDidRender = this.renderedEmitter.event;
  /** How many bodies were sent to the page, and the last one (for tests). */
  renders = 0;
  lastBody = '';

  attach(core: Core): void {
    this.core = core;
    const kick = () => this.schedule();
    this.subs.push(
      core.changes.event(kick),
      core.monitor.onDidChange(kick),
      core.runs.onRunEvent(e => {
        if (e.event.type === 'model') kick(); // a new step; not every streamed token
      }),
    );
  }

  get visible(): boolean {
    return !!this.panel;
  }

  async open(ready: Promise<Core>): Promise<void> {
    const core = await ready;
    const html = (this.html ??= await loadPart('the dashboard', () => import('./dashboardHtml')));
    if (this.panel) {
      this.panel.reveal();
      return;
    }
    const panel = vscode.window.createWebviewPanel('ai2ai.dashboard', 'AI2AI Dashboard', vscode.ViewColumn.Active, {
      enableScripts: true,
      localResourceRoots: [],
      retainContextWhenHidden: false,
    });
    this.panel = panel;
    const nonce = crypto.randomBytes(16).toString('base64');
    const stats = core.stats.stats();
    this.lastBody = html.renderDashboardBody(stats);
    this.renders++;
    panel.webview.html = html.renderDashboardPage(stats, nonce, panel.webview.cspSource);
    panel.webview.onDidReceiveMessage((m: { type?: string; format?: string; seq?: number }) => {
      if (m?.type === 'export' && (m.format === 'csv' || m.format === 'json')) void this.export(m.format);
      else if (m?.type === 'rendered') this.renderedEmitter.fire(m.seq ?? 0);
    });
    // Shown again: the page was reloaded from its first HTML, so send the current body whatever it was.
    panel.onDidChangeViewState(() => {
      if (panel.visible) this.lastBody = '';
      this.schedule();
    });
    panel.onDidDispose(() => {
      if (this.panel === panel) this.panel = undefined;
    });
  }

  /** Opens the figures as an untitled document (the same numbers as the page and `/v1/stats`). */
  async export(format: 'csv' | 'json'): Promise<vscode.TextDocument | undefined> {
    const core = this.core;
    if (!core) return undefined;
    const s = core.stats.stats();
    const doc = await vscode.workspace.openTextDocument({ language: format === 'csv' ? 'csv' : 'json', content: format === 'csv' ? statsToCsv(s) : JSON.stringify(s, null, 2) });
    await vscode.window.showTextDocument(doc, { preview: false });
    return doc;
  }

  private schedule(): void {
    if (!this.panel || this.timer) return;
    // At most every 500 ms, and never more than a quarter of the time on a board so big a render is slow.
    const wait = Math.max(0, this.lastRender + Math.max(THROTTLE_MS, 4 * this.renderMs) - Date.now());
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.refresh();
    }, wait);
  }

  /** Re-reads the figures and sends the page its new body (skipped when nothing visible changed). */
  refresh(): void {
    const panel = this.panel;
    if (!panel || !this.core || !this.html || !panel.visible) return;
    this.lastRender = Date.now();
    const body = this.html.renderDashboardBody(this.core.stats.stats());
    this.renderMs = Date.now() - this.lastRender;
    if (body === this.lastBody) return;
    this.lastBody = body;
    this.renders++;
    void panel.webview.postMessage({ type: 'body', html: body, seq: ++this.seq });
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subs.forEach(s => s.dispose());
    this.panel?.dispose();
    this.renderedEmitter.dispose();
  }
}
