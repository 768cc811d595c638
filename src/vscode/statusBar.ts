/**
 * One status-bar item: tasks running, queued and failed today; a warning while a model provider is
 * offline; a click opens the dashboard.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';

function healthReason(core: Core, id: string): string {
  const h = core.providers.lastHealth(id);
  return h && !h.ok ? h.reason : 'unreachable';
}

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('ai2ai.status', vscode.StatusBarAlignment.Left, 20);
  private readonly subs: Array<{ dispose(): void }> = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** What the item shows now, as numbers (for tests and the API). */
  counts = { running: 0, queued: 0, failedToday: 0, offline: [] as string[] };
  private core: Core | undefined;
  /** Set while agents' commands run unconfined or cannot run (see CommandSandboxes). */
  private commandNotice: string | undefined;

  constructor() {
    this.item.name = 'AI2AI';
    this.item.command = 'ai2ai.openDashboard';
  }

  attach(core: Core): void {
    this.core = core;
    const kick = () => {
      // Batched like the trees: a run writes many updates in a burst.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.update(core);
      }, 100);
    };
    this.subs.push(core.changes.event(kick), core.providers.onDidChangeHealth(kick), core.monitor.onDidChange(kick));
    this.update(core);
    this.item.show();
  }

  setCommandNotice(notice: string | undefined): void {
    this.commandNotice = notice;
    if (this.core) this.update(this.core);
  }

  private update(core: Core): void {
    const c = core.stats.counts();
    const running = c.running + c.inReview;
    const views = core.monitor.views();
    const offline = core.providers
      .list()
      .filter(p => views.get(p.id)?.online === false || core.providers.lastHealth(p.id)?.ok === false)
      // Only providers someone uses: an unused default server being down is no warning.
      .filter(p => core.agents.list().some(a => a.enabled && a.providerId === p.id));
    const errors = core.agents.list().filter(a => a.status === 'error');
    this.counts = { running, queued: c.queued, failedToday: c.failedToday, offline: offline.map(p => p.name) };
    this.item.text =
      `${running ? '$(sync~spin)' : '$(hubot)'} ${running} running · ${c.queued} queued` +
      (c.failedToday ? ` · $(error) ${c.failedToday} failed` : '') +
      (offline.length ? ` · $(warning) ${offline.length === 1 ? `${offline[0].name} offline` : `${offline.length} providers offline`}` : '') +
      (this.commandNotice ? ' · $(warning) no sandbox' : '');
    const lines = [`AI2AI: ${running} task(s) running, ${c.queued} queued, ${c.failedToday} failed today`];
    for (const p of offline) lines.push(`Offline: ${p.name} (${views.get(p.id)?.offlineReason ?? healthReason(core, p.id)}); its queue waits until it is back.`);
    if (errors.length) lines.push(`Agents in error: ${errors.map(a => `${a.name} (${a.statusReason ?? 'error'})`).join(', ')}`);
    if (this.commandNotice) lines.push(this.commandNotice);
    lines.push('Click to open the dashboard.');
    this.item.tooltip = lines.join('\n');
    this.item.backgroundColor = offline.length || errors.length ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subs.forEach(s => s.dispose());
    this.item.dispose();
  }
}
