/**
 * Notifications for runs that end (completed, failed) and review verdicts, per `ai2ai.notifications.show`
 * (all, failures, none). Events arriving within a short window are coalesced into one message, so a busy
 * queue never floods the screen. Runs started by hand are left to their own progress notification.
 * An action runs only when its button was clicked; a dismissed message does nothing.
 */
import * as vscode from 'vscode';
import type { Core } from '../core';
import type { Run } from '../core/model/schemas';

export type NotificationLevel = 'all' | 'failures' | 'none';

interface Note {
  kind: 'completed' | 'failed' | 'verdict';
  failure: boolean;
  text: string;
  taskId: string;
  transcript?: string | null;
}

const COALESCE_MS = 1500;

export class Notifications implements vscode.Disposable {
  private readonly subs: Array<{ dispose(): void }> = [];
  private pending: Note[] = [];
  private timer: ReturnType<typeof setTimeout> | undefined;
  /** Every message shown, newest last (for tests). */
  readonly shown: string[] = [];

  constructor(
    private readonly level: () => NotificationLevel,
    /** Runs the user started by hand (they have their own progress and end message). */
    private readonly manual: (taskId: string) => boolean,
  ) {}

  attach(core: Core): void {
    this.subs.push(
      core.runs.onDidEnd(e => this.onRunEnd(core, e.taskId, e.run)),
      core.changes.event(c => {
        for (const r of c.changes) if (r.entity === 'review' && r.op === 'created') this.onVerdict(core, r.id);
      }),
    );
  }

  private onRunEnd(core: Core, taskId: string, run: Run): void {
    if (this.manual(taskId)) return;
    if (run.outcome !== 'completed' && run.outcome !== 'failed' && run.outcome !== 'error') return;
    const task = safe(() => core.tasks.get(taskId));
    const agent = safe(() => core.agents.get(run.agentId));
    if (!task) return;
    if (task.reviewOf) return; // a review run: its verdict is the news
    const who = agent?.name ?? 'An agent';
    if (run.outcome === 'completed') {
      this.push({ kind: 'completed', failure: false, taskId, text: task.status === 'in_review' ? `${who} finished "${task.title}"; it is in review.` : `${who} completed "${task.title}".` });
    } else {
      this.push({ kind: 'failed', failure: true, taskId, transcript: run.transcript, text: `${who} did not finish "${task.title}": ${run.reason ?? run.outcome}` });
    }
  }

  private onVerdict(core: Core, reviewId: string): void {
    const r = core.app.review(reviewId);
    if (!r) return;
    const task = safe(() => core.tasks.get(r.taskId));
    if (!task) return;
    const approve = r.verdict === 'approve';
    this.push({
      kind: 'verdict',
      failure: !approve && task.status === 'failed',
      taskId: task.id,
      text: approve ? `${r.reviewerName} approved "${task.title}" (round ${r.round}).` : `${r.reviewerName} requested changes to "${task.title}" (round ${r.round}).`,
    });
  }

  private push(n: Note): void {
    const level = this.level();
    if (level === 'none' || (level === 'failures' && !n.failure)) return;
    this.pending.push(n);
    this.timer ??= setTimeout(() => this.flush(), COALESCE_MS);
  }

  /** Shows what gathered: one event as itself, several as one summary. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const notes = this.pending;
    this.pending = [];
    if (!notes.length) return;
    if (notes.length === 1) {
      const n = notes[0];
      this.shown.push(n.text);
      if (n.failure) {
        void vscode.window.showWarningMessage(`AI2AI: ${n.text}`, 'Show Task', 'Open Log').then(a => {
          if (a === 'Show Task') void vscode.commands.executeCommand('ai2ai.showTask', n.taskId);
          else if (a === 'Open Log') void openLog(n.transcript);
        });
      } else {
        void vscode.window.showInformationMessage(`AI2AI: ${n.text}`, 'Show Task').then(a => a === 'Show Task' && vscode.commands.executeCommand('ai2ai.showTask', n.taskId));
      }
      return;
    }
    const count = (k: Note['kind']) => notes.filter(n => n.kind === k).length;
    const parts = [
      count('completed') && `${count('completed')} finished`,
      count('failed') && `${count('failed')} failed`,
      count('verdict') && `${count('verdict')} review verdict${count('verdict') === 1 ? '' : 's'}`,
    ].filter(Boolean);
    const text = `AI2AI: ${parts.join(', ')}.`;
    this.shown.push(text);
    const show = notes.some(n => n.failure) ? vscode.window.showWarningMessage : vscode.window.showInformationMessage;
    void show(text, 'Open Dashboard').then(a => a === 'Open Dashboard' && vscode.commands.executeCommand('ai2ai.openDashboard'));
  }

  dispose(): void {
    if (this.timer) clearTimeout(this.timer);
    this.subs.forEach(s => s.dispose());
  }
}

function safe<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** The run's transcript when it was kept, else the extension's log. */
async function openLog(transcript: string | null | undefined): Promise<void> {
  if (transcript) {
    try {
      await vscode.window.showTextDocument(vscode.Uri.file(transcript), { preview: true });
      return;
    } catch {
      // gone: fall back to the log
    }
  }
  await vscode.commands.executeCommand('ai2ai.showLog');
}
