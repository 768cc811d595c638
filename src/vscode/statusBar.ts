/** One status-bar item: how many agents are working and how many tasks wait; a click opens the board. */
import * as vscode from 'vscode';
import type { Core } from '../core';

export class StatusBar implements vscode.Disposable {
  readonly item = vscode.window.createStatusBarItem('ai2ai.status', vscode.StatusBarAlignment.Left, 20);
  private sub: vscode.Disposable | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private core: Core | undefined;
  /** Set while agents' commands run unconfined or cannot run (see CommandSandboxes). */
  private commandNotice: string | undefined;

  constructor() {
    this.item.name = 'AI2AI';
    this.item.command = 'ai2ai.tasks.focus';
  }

  attach(core: Core): void {
    this.core = core;
    this.sub = core.changes.event(() => {
      // Batched like the trees: a run writes many updates in a burst.
      this.timer ??= setTimeout(() => {
        this.timer = undefined;
        this.update(core);
      }, 100);
    });
    this.update(core);
    this.item.show();
  }

  /** Commands unconfined (no sandbox, or turned off) or refused: shown until the settings change it. */
  setCommandNotice(notice: string | undefined): void {
    this.commandNotice = notice;
    if (this.core) this.update(this.core);
  }

  private update(core: Core): void {
    const counts = core.tasks.counts();
    const running = counts.in_progress + counts.in_review;
    const pending = counts.pending;
    const errors = core.agents.list().filter(a => a.status === 'error');
    const unconfined = this.commandNotice ? ' · $(warning) no sandbox' : '';
    this.item.text = `${running ? '$(sync~spin)' : '$(hubot)'} ${running} running · ${pending} pending${errors.length ? ` · $(error) ${errors.length}` : ''}${unconfined}`;
    this.item.tooltip =
      `AI2AI: ${running} task(s) in progress, ${pending} pending` +
      (errors.length ? `\nAgents in error: ${errors.map(a => `${a.name} (${a.statusReason ?? 'error'})`).join(', ')}` : '') +
      (this.commandNotice ? `\n${this.commandNotice}` : '') +
      '\nClick to open the task board.';
    this.item.backgroundColor = errors.length ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sub?.dispose();
    this.item.dispose();
  }
}
