/**
 * CodeLens at the top of files: "AI2AI: Assign to agent…", the file's open tasks ("AI2AI: 1 task in
 * progress (coder-1)", which opens the task) and its proposed changes. The provider owns its registration
 * (re-made when the languages or globs change, gone when switched off), its configuration listener and
 * its change event (fired, batched, when tasks, agents or change sets change).
 */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Core } from '../core';
import { normalizeAttachment } from '../core/changesets/changeSetService';
import type { Task } from '../core/model/schemas';
import type { Config } from './config';

const OPEN: readonly Task['status'][] = ['pending', 'blocked', 'in_progress', 'in_review'];

/** A file's path relative to the first workspace folder (where attachments live), or undefined outside it. */
export function workspaceRelative(uri: vscode.Uri): string | undefined {
  const root = vscode.workspace.workspaceFolders?.[0];
  if (uri.scheme !== 'file' || !root || root.uri.scheme !== 'file') return undefined;
  const rel = path.relative(root.uri.fsPath, uri.fsPath);
  if (!rel || rel.startsWith('..') || path.isAbsolute(rel)) return undefined;
  return rel.split(path.sep).join('/');
}

export class AssignCodeLens implements vscode.CodeLensProvider, vscode.Disposable {
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChangeCodeLenses = this.emitter.event;
  private registration: vscode.Disposable | undefined;
  private readonly subs: vscode.Disposable[] = [];
  private core: Core | undefined;
  /** Open tasks by attached file; rebuilt on the next request after a change. */
  private byFile: Map<string, Task[]> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;

  constructor(private readonly config: Config) {
    // Registered just after activate() returns: the first read of the settings is the slowest part of
    // activation (VS Code's first getConfiguration and the settings' first validation).
    const soon = setImmediate(() => this.register());
    this.subs.push({ dispose: () => clearImmediate(soon) });
    this.subs.push(
      vscode.workspace.onDidChangeConfiguration(e => {
        if (!e.affectsConfiguration('ai2ai.codeLens')) return;
        this.register();
        this.emitter.fire();
      }),
    );
  }

  attach(core: Core): void {
    this.core = core;
    this.subs.push(
      core.changes.event(c => {
        if (c.origin === 'reload' || c.changes.some(x => x.entity === 'task' || x.entity === 'agent' || x.entity === 'change')) this.refreshSoon();
      }),
    );
    this.refreshSoon();
  }

  /** Registered for the configured languages and globs, file scheme only; not at all when switched off. */
  private register(): void {
    this.registration?.dispose();
    this.registration = undefined;
    const s = this.config.settings.codeLens;
    if (!s.enabled) return;
    const selector: vscode.DocumentFilter[] = s.languages.flatMap(language =>
      s.include.map(pattern => ({ scheme: 'file', ...(language === '*' ? {} : { language }), pattern })),
    );
    this.registration = vscode.languages.registerCodeLensProvider(selector, this);
  }

  private refreshSoon(): void {
    this.byFile = undefined;
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.emitter.fire();
    }, 100);
  }

  private tasksByFile(core: Core): Map<string, Task[]> {
    if (this.byFile) return this.byFile;
    const m = new Map<string, Task[]>();
    for (const t of core.tasks.list({ status: [...OPEN] })) {
      for (const a of t.attachments) {
        const k = normalizeAttachment(a);
        m.set(k, [...(m.get(k) ?? []), t]);
      }
    }
    return (this.byFile = m);
  }

  provideCodeLenses(doc: vscode.TextDocument): vscode.CodeLens[] {
    const core = this.core;
    const rel = workspaceRelative(doc.uri);
    if (!core || !rel || rel.split('/').some(s => s === 'node_modules' || s === '.git')) return [];
    const top = new vscode.Range(0, 0, 0, 0);
    const lenses = [new vscode.CodeLens(top, { title: 'AI2AI: Assign to agent…', command: 'ai2ai.assignFile', arguments: [doc.uri], tooltip: 'Create a task for an agent with this file attached' })];
    const tasks = this.tasksByFile(core).get(rel) ?? [];
    const name = (t: Task) => (t.assigneeId ? (core.agents.find(t.assigneeId)?.name ?? 'a deleted agent') : 'unassigned');
    const state = (t: Task) => t.status.replace('_', ' ');
    if (tasks.length === 1) {
      const t = tasks[0]!;
      lenses.push(new vscode.CodeLens(top, { title: `AI2AI: 1 task ${state(t)} (${name(t)})`, command: 'ai2ai.showTask', arguments: [t.id], tooltip: t.title }));
    } else {
      for (const t of tasks.slice(0, 3)) lenses.push(new vscode.CodeLens(top, { title: `AI2AI: ${t.title} (${state(t)}, ${name(t)})`, command: 'ai2ai.showTask', arguments: [t.id] }));
      if (tasks.length > 3) lenses.push(new vscode.CodeLens(top, { title: `AI2AI: ${tasks.length - 3} more tasks`, command: 'ai2ai.showTask' }));
    }
    // Proposals for this file that wait for a decision (the task may be finished already).
    for (const c of core.changeSets.pendingFor(rel)) {
      const who = c.agentId ? (core.agents.find(c.agentId)?.name ?? 'an agent') : 'an agent';
      lenses.push(new vscode.CodeLens(top, { title: `AI2AI: Review the change ${who} proposes${c.status === 'conflict' ? ' (conflict)' : ''}`, command: 'ai2ai.reviewChanges', arguments: [c.taskId, rel] }));
    }
    return lenses;
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.registration?.dispose();
    this.subs.forEach(s => s.dispose());
    this.emitter.dispose();
  }
}
