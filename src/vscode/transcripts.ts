/**
 * Read-only Markdown documents `ai2ai-transcript:/<run id>.md`: a run's conversation as the model saw it,
 * rendered by `core/tasks/report.ts` from the run's transcript file. Opened from the task details view.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';
import { AppError } from '../core/errors';
import { renderTranscript } from '../core/tasks/report';
import type { Prompter } from './input';

export const TRANSCRIPT_SCHEME = 'ai2ai-transcript';

export class TranscriptDocuments implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private core: Core | undefined;

  constructor(private readonly prompter: Prompter) {
    this.subs.push(vscode.workspace.registerTextDocumentContentProvider(TRANSCRIPT_SCHEME, this));
  }

  attach(core: Core): void {
    this.core = core;
    // A running run's transcript grows after every step: open documents follow it.
    this.subs.push(
      core.changes.event(c => {
        for (const d of vscode.workspace.textDocuments) {
          if (d.uri.scheme === TRANSCRIPT_SCHEME && c.changes.some(x => x.entity === 'run' && x.id === idOf(d.uri))) this.emitter.fire(d.uri);
        }
      }),
    );
  }

  static uri(runId: string): vscode.Uri {
    return vscode.Uri.from({ scheme: TRANSCRIPT_SCHEME, path: `/${runId}.md` });
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    if (!this.core) return 'The AI2AI database is not open yet.';
    const t = this.core.app.transcript(idOf(uri));
    return t ? renderTranscript(t) : '# No transcript\n\nThis run left no readable transcript (it may have been deleted with its task).\n';
  }

  /** Opens a run's transcript (a pinned tab); without an id, asks which of the recent runs. */
  async show(core: Core, runId?: string): Promise<vscode.TextEditor | undefined> {
    let id = runId;
    if (!id) {
      const runs = core.executor.list().filter(r => r.transcript).slice(-30).reverse();
      if (!runs.length) throw new AppError('validation', 'No run has a transcript yet. Run a task first.');
      const titles = new Map(core.tasks.list().map(t => [t.id, t.title]));
      const v = await this.prompter.pick(
        runs.map(r => ({ label: titles.get(r.taskId) ?? 'a deleted task', description: `${r.agentName ?? 'an agent'} · ${r.outcome}`, detail: new Date(r.startedAt).toLocaleString(), runId: r.id })),
        { title: 'Show Transcript', placeholder: 'Which run?' },
      );
      if (typeof v !== 'object') return undefined;
      id = v.runId;
    }
    if (!core.executor.get(id)) throw new AppError('not_found', 'That run no longer exists. It may have been deleted with its task.');
    const doc = await vscode.workspace.openTextDocument(TranscriptDocuments.uri(id));
    return vscode.window.showTextDocument(doc, { preview: false });
  }

  dispose(): void {
    this.subs.forEach(s => s.dispose());
    this.emitter.dispose();
  }
}

function idOf(uri: vscode.Uri): string {
  return uri.path.replace(/^\//, '').replace(/\.md$/, '');
}
