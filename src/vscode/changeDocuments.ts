/**
 * Read-only documents with a file as a run found it and as it left it (`ai2ai-run-change:/<runId>/before/<path>`,
 * `…/after/<path>`), from the diff the run recorded, so "Show Changes" opens VS Code's own diff view on
 * exactly what the reviewer saw.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';
import type { FolderDiff } from '../core/workspace/folderDiff';

export const CHANGE_SCHEME = 'ai2ai-run-change';

export class ChangeDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly sub: vscode.Disposable;
  private core: Core | undefined;
  private readonly cache = new Map<string, FolderDiff | undefined>();

  constructor() {
    this.sub = vscode.workspace.registerTextDocumentContentProvider(CHANGE_SCHEME, this);
  }

  attach(core: Core): void {
    this.core = core;
  }

  static uri(runId: string, side: 'before' | 'after', file: string): vscode.Uri {
    return vscode.Uri.from({ scheme: CHANGE_SCHEME, path: `/${runId}/${side}/${file}` });
  }

  diffOf(runId: string): FolderDiff | undefined {
    if (!this.cache.has(runId)) {
      const run = this.core?.executor.get(runId);
      this.cache.set(runId, run?.diff ? this.core?.executor.readDiff(run.diff) : undefined);
    }
    return this.cache.get(runId);
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const [, runId, side, ...rest] = uri.path.split('/');
    const file = rest.join('/');
    const d = this.diffOf(runId);
    if (!d) return '(this change is no longer recorded)';
    const text = (side === 'before' ? d.before : d.after)[file] ?? '';
    return text.startsWith('\u0000') ? text.slice(1) : text;
  }

  dispose(): void {
    this.sub.dispose();
    this.cache.clear();
  }
}
