/**
 * Read-only Markdown documents `ai2ai-task:/<id>.md` showing a task's details, history, messages and runs.
 * They update live: the provider owns its change emitter and listens to the core's change feed.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';
import { touchesTask } from '../core/changes';
import { renderTaskReport } from '../core/tasks/report';

export const TASK_SCHEME = 'ai2ai-task';

export class TaskDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private core: Core | undefined;

  constructor() {
    this.subs.push(vscode.workspace.registerTextDocumentContentProvider(TASK_SCHEME, this));
  }

  attach(core: Core): void {
    this.core = core;
    this.subs.push(
      core.changes.event(c => {
        const open = vscode.workspace.textDocuments.filter(d => d.uri.scheme === TASK_SCHEME);
        for (const d of open) {
          const id = idOf(d.uri);
          if (touchesTask(c, id) || c.changes.some(x => x.entity === 'agent')) this.emitter.fire(d.uri);
        }
      }),
    );
  }

  static uri(taskId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: TASK_SCHEME, path: `/${taskId}.md` });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const core = this.core;
    if (!core) return 'The AI2AI database is not open yet.';
    if (!core.tasks.find(idOf(uri))) return '# This task no longer exists\n\nIt may have been deleted, here or in another window.\n';
    return renderTaskReport(core.app.taskDetails(idOf(uri)));
  }

  dispose(): void {
    this.subs.forEach(s => s.dispose());
    this.emitter.dispose();
  }
}

function idOf(uri: vscode.Uri): string {
  return uri.path.replace(/^\//, '').replace(/\.md$/, '');
}
