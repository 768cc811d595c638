/**
 * Reviewing a change set in VS Code's diff view: the file as it is (left) against the agent's version
 * (right, a read-only `ai2ai-change:` document). Accepting applies a WorkspaceEdit, so it is undoable
 * like any edit, and only when the file (saved or not) is still what the agent read; otherwise the
 * conflict is said, and nothing is overwritten. The core decides what a conflict is and records the outcome.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';
import type { FileChange } from '../core/changesets/changeSetService';
import { AppError } from '../core/errors';
import type { Task } from '../core/model/schemas';
import type { Prompter } from './input';

export const CHANGE_SCHEME = 'ai2ai-change';

export class ChangeReview implements vscode.TextDocumentContentProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<vscode.Uri>();
  readonly onDidChange = this.emitter.event;
  private readonly subs: vscode.Disposable[] = [];
  private core: Core | undefined;

  constructor(private readonly getCore: () => Promise<Core>, private readonly prompter: Prompter) {
    this.subs.push(vscode.workspace.registerTextDocumentContentProvider(CHANGE_SCHEME, this));
  }

  attach(core: Core): void {
    this.core = core;
    this.subs.push(
      core.changes.event(c => {
        if (!c.changes.some(x => x.entity === 'change') && c.origin !== 'reload') return;
        for (const d of vscode.workspace.textDocuments) if (d.uri.scheme === CHANGE_SCHEME) this.emitter.fire(d.uri);
      }),
    );
  }

  static uri(taskId: string, path: string): vscode.Uri {
    return vscode.Uri.from({ scheme: CHANGE_SCHEME, path: `/${path}`, query: taskId });
  }

  private static parse(uri: vscode.Uri): { taskId: string; path: string } {
    return { taskId: uri.query, path: uri.path.replace(/^\//, '') };
  }

  provideTextDocumentContent(uri: vscode.Uri): string {
    const { taskId, path } = ChangeReview.parse(uri);
    try {
      const c = this.core?.changeSets.get(taskId, path);
      return c?.after ?? '';
    } catch {
      return '';
    }
  }

  /** Opens the diff of one file, or a pick of the task's files (with accept all / reject all). */
  async review(taskId?: string, path?: string): Promise<FileChange[] | undefined> {
    const core = await this.getCore();
    const task = taskId ? core.tasks.get(taskId) : await this.pickTask(core);
    if (!task) return undefined;
    const pending = core.changeSets.list(task.id).filter(c => c.status === 'proposed' || c.status === 'conflict');
    if (path) {
      await this.openDiff(core, core.changeSets.get(task.id, path));
      return pending;
    }
    if (!pending.length) {
      void vscode.window.showInformationMessage(`"${task.title}" proposes no changes waiting for a decision.`);
      return [];
    }
    if (pending.length === 1) {
      await this.openDiff(core, pending[0]!);
      return pending;
    }
    type Item = vscode.QuickPickItem & { action: 'open' | 'accept' | 'reject'; change?: FileChange };
    const items: Item[] = [
      ...pending.map(c => ({ label: c.path, description: c.status === 'conflict' ? 'conflict' : c.after === null ? 'delete' : 'change', detail: c.conflict ?? undefined, action: 'open' as const, change: c })),
      { label: '$(check-all) Accept all', action: 'accept' },
      { label: '$(close-all) Reject all', action: 'reject' },
    ];
    const v = await this.prompter.pick(items, { title: `Changes proposed for "${task.title}"`, placeholder: 'Open a file to see its diff' });
    if (typeof v !== 'object') return undefined;
    if (v.action === 'accept') return this.acceptAll(task.id);
    if (v.action === 'reject') return this.rejectAll(task.id);
    await this.openDiff(core, v.change!);
    return pending;
  }

  private async openDiff(core: Core, c: FileChange): Promise<void> {
    const fileUri = vscode.Uri.file(core.changeSets.absolute(c.path));
    const left = (await exists(fileUri)) ? fileUri : vscode.Uri.from({ scheme: 'untitled', path: fileUri.path });
    const who = c.agentId ? (core.agents.find(c.agentId)?.name ?? 'the agent') : 'the agent';
    await vscode.commands.executeCommand('vscode.diff', left, ChangeReview.uri(c.taskId, c.path), `${c.path} ↔ ${who}'s proposal (AI2AI)`);
  }

  /** Accepts one file: `uri` is the proposal's document (from the diff editor's title), or a task id and a path. */
  async accept(arg?: vscode.Uri | string, path?: string): Promise<FileChange | undefined> {
    const core = await this.getCore();
    const target = this.target(arg, path);
    if (!target) return undefined;
    const c = core.changeSets.get(target.taskId, target.path);
    if (c.status === 'accepted' || c.status === 'rejected') throw new AppError('conflict', `The change to ${c.path} was already ${c.status}.`);
    const fileUri = vscode.Uri.file(core.changeSets.absolute(c.path));
    const doc = (await exists(fileUri)) ? await vscode.workspace.openTextDocument(fileUri) : undefined;
    // What the file is now, unsaved edits included: the core says whether that is still what the agent read.
    const conflict = core.changeSets.check(c, doc ? doc.getText() : null);
    if (conflict) {
      const marked = core.changeSets.markConflict(c.taskId, c.path, conflict);
      void vscode.window.showWarningMessage(`AI2AI: ${conflict}`);
      return marked;
    }
    const edit = new vscode.WorkspaceEdit();
    if (c.after === null) edit.deleteFile(fileUri, { ignoreIfNotExists: true });
    else if (doc) edit.replace(fileUri, new vscode.Range(doc.positionAt(0), doc.positionAt(doc.getText().length)), c.after);
    else edit.createFile(fileUri, { contents: Buffer.from(c.after) });
    if (!(await vscode.workspace.applyEdit(edit))) throw new AppError('conflict', `VS Code did not apply the change to ${c.path}.`);
    if (doc && c.after !== null) await doc.save();
    return core.changeSets.markApplied(c.taskId, c.path);
  }

  async reject(arg?: vscode.Uri | string, path?: string): Promise<FileChange | undefined> {
    const core = await this.getCore();
    const target = this.target(arg, path);
    if (!target) return undefined;
    return core.changeSets.reject(target.taskId, [target.path])[0];
  }

  async acceptAll(taskId?: string): Promise<FileChange[]> {
    const core = await this.getCore();
    const task = taskId ? core.tasks.get(taskId) : await this.pickTask(core);
    if (!task) return [];
    const out: FileChange[] = [];
    for (const c of core.changeSets.list(task.id).filter(x => x.status === 'proposed' || x.status === 'conflict')) {
      const r = await this.accept(c.taskId, c.path);
      if (r) out.push(r);
    }
    return out;
  }

  async rejectAll(taskId?: string): Promise<FileChange[]> {
    const core = await this.getCore();
    const task = taskId ? core.tasks.get(taskId) : await this.pickTask(core);
    return task ? core.changeSets.reject(task.id) : [];
  }

  private target(arg?: vscode.Uri | string, path?: string): { taskId: string; path: string } | undefined {
    if (arg instanceof vscode.Uri && arg.scheme === CHANGE_SCHEME) return ChangeReview.parse(arg);
    if (typeof arg === 'string' && path) return { taskId: arg, path };
    const active = vscode.window.activeTextEditor?.document.uri;
    if (active?.scheme === CHANGE_SCHEME) return ChangeReview.parse(active);
    void vscode.window.showInformationMessage('Open a proposed change first (AI2AI: Review Changes).');
    return undefined;
  }

  private async pickTask(core: Core): Promise<Task | undefined> {
    const counts = core.changeSets.pendingCounts();
    const tasks = [...counts.keys()].map(id => core.tasks.find(id)).filter((t): t is Task => !!t);
    if (!tasks.length) {
      void vscode.window.showInformationMessage('No task proposes changes waiting for a decision.');
      return undefined;
    }
    const v = await this.prompter.pick(tasks.map(t => ({ label: t.title, description: `${counts.get(t.id)} file(s)`, task: t })), { title: 'Review Changes', placeholder: 'Choose a task' });
    return typeof v === 'object' ? v.task : undefined;
  }

  dispose(): void {
    this.subs.forEach(s => s.dispose());
    this.emitter.dispose();
  }
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
