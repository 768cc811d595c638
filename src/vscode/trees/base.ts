/**
 * What both trees share: a change emitter with batched refreshes (many store changes in a burst become
 * one repaint), and the state before the database is open or when it failed to open.
 */
import * as vscode from 'vscode';
import type { Core } from '../../core';

export const REFRESH_DELAY_MS = 50;

export abstract class TreeBase<T> implements vscode.TreeDataProvider<T>, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<T | undefined | void>();
  readonly onDidChangeTreeData = this.emitter.event;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private sub: vscode.Disposable | undefined;
  protected core: Core | undefined;
  /** How many repaints were requested and how many were made: the batching is visible to tests. */
  readonly stats = { requested: 0, fired: 0 };

  attach(core: Core): void {
    this.core = core;
    this.sub?.dispose();
    this.sub = vscode.Disposable.from(
      core.changes.event(c => {
        if (c.origin === 'reload' || c.changes.some(x => this.cares(x.entity))) this.refresh();
      }),
      ...this.moreEvents(core).map(e => e(() => this.refresh())),
    );
    this.refreshNow();
  }

  protected abstract cares(entity: string): boolean;
  /** Other events that change what the tree shows (the queue, provider health). */
  protected moreEvents(_core: Core): Array<(listener: () => void) => { dispose(): void }> {
    return [];
  }
  abstract getTreeItem(element: T): vscode.TreeItem;
  abstract getChildren(element?: T): vscode.ProviderResult<T[]>;

  refresh(): void {
    this.stats.requested++;
    if (this.timer) return;
    this.timer = setTimeout(() => this.refreshNow(), REFRESH_DELAY_MS);
  }

  refreshNow(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.stats.fired++;
    this.invalidate();
    this.emitter.fire();
  }

  /** Drop cached data before a repaint. */
  protected invalidate(): void {}

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.sub?.dispose();
    this.emitter.dispose();
  }
}

export function relativeTime(ms: number, now = Date.now()): string {
  const s = Math.round((now - ms) / 1000);
  if (s < 60) return 'just now';
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
  return new Date(ms).toLocaleDateString();
}
