/** The Tasks view: tasks grouped by status (with counts), each showing assignee and priority. */
import * as vscode from 'vscode';
import { PRIORITY_LABELS, type Agent, type Task, type TaskStatus } from '../../core/model/schemas';
import type { Core } from '../../core';
import type { Logger } from '../../core/ports';
import { REFRESH_DELAY_MS, TreeBase, relativeTime } from './base';

export type TaskNode = { kind: 'group'; status: TaskStatus; count: number } | { kind: 'task'; task: Task; assignee?: Agent };

/** Active work first, finished work last. */
export const GROUP_ORDER: readonly TaskStatus[] = ['in_progress', 'in_review', 'pending', 'blocked', 'failed', 'completed', 'cancelled'];

const GROUP_LABEL: Record<TaskStatus, string> = {
  in_progress: 'In Progress',
  in_review: 'In Review',
  pending: 'Pending',
  blocked: 'Blocked',
  failed: 'Failed',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

const STATUS_ICON: Record<TaskStatus, vscode.ThemeIcon> = {
  pending: new vscode.ThemeIcon('circle-large-outline'),
  blocked: new vscode.ThemeIcon('lock', new vscode.ThemeColor('charts.yellow')),
  in_progress: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue')),
  in_review: new vscode.ThemeIcon('eye', new vscode.ThemeColor('charts.purple')),
  completed: new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed')),
  failed: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  cancelled: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
};

export class TasksTree extends TreeBase<TaskNode> {
  private cache: { byStatus: Map<TaskStatus, TaskNode[]>; all: Task[] } | undefined;
  private view: vscode.TreeView<TaskNode> | undefined;
  /** A task that finished while the view was hidden: revealed when it is shown. */
  private pendingReveal: string | undefined;
  private viewSub: vscode.Disposable | undefined;

  private log: Logger | undefined;

  setView(view: vscode.TreeView<TaskNode>, log?: Logger): void {
    this.view = view;
    this.log = log;
    this.viewSub = view.onDidChangeVisibility(e => {
      if (e.visible && this.pendingReveal) void this.reveal(this.pendingReveal);
    });
  }

  override attach(core: Core): void {
    super.attach(core);
    // A finished task would otherwise vanish into a collapsed group: show it there, selected.
    this.extra = core.runs.onDidEnd(e => {
      if (!e.requeued && e.run.outcome !== 'interrupted') void this.reveal(e.taskId);
    });
  }

  private extra: { dispose(): void } | undefined;

  /** Expands the task's group and selects the task (without taking the focus). */
  async reveal(taskId: string): Promise<boolean> {
    if (!this.view) return false;
    if (!this.view.visible) {
      this.log?.debug(`[tasks view] task ${taskId} is revealed when the view is shown`);
      this.pendingReveal = taskId;
      return false;
    }
    this.pendingReveal = undefined;
    // After the repaint that the run's last changes asked for, so the task is found in its new group; a
    // repaint racing the reveal can drop the selection, so it is checked and tried once more.
    for (let attempt = 0; attempt < 3; attempt++) {
      await new Promise(r => setTimeout(r, REFRESH_DELAY_MS * 3));
      const task = this.core?.tasks.find(taskId);
      const node = task && this.load().get(task.status)?.find(n => n.kind === 'task' && n.task.id === taskId);
      if (!task || !node) return false; // deleted meanwhile
      try {
        await this.view.reveal(node, { select: true, focus: false, expand: true });
      } catch (e) {
        this.log?.debug(`[tasks view] could not reveal "${task.title}": ${e instanceof Error ? e.message : String(e)}`);
        continue;
      }
      await new Promise(r => setTimeout(r, REFRESH_DELAY_MS * 2)); // the selection arrives as an event
      if (this.view.selection.some(n => n.kind === 'task' && n.task.id === taskId)) return true;
    }
    return false;
  }

  getParent(node: TaskNode): TaskNode | undefined {
    if (node.kind === 'group') return undefined;
    const status = node.task.status;
    return { kind: 'group', status, count: this.load().get(status)?.length ?? 0 };
  }

  protected cares(entity: string): boolean {
    return entity === 'task' || entity === 'agent' || entity === 'change';
  }

  protected override moreEvents(core: Core) {
    return [core.scheduler.onDidChangeQueue];
  }

  protected override invalidate(): void {
    this.cache = undefined;
  }

  override dispose(): void {
    this.extra?.dispose();
    this.viewSub?.dispose();
    super.dispose();
  }
  /** Proposed changes waiting for a decision, per task (one query per repaint). */
  private changesToReview = new Map<string, number>();

  /** One read of the board per repaint, shared by every group. */
  private load(): Map<TaskStatus, TaskNode[]> {
    if (this.cache) return this.cache.byStatus;
    const byStatus = new Map<TaskStatus, TaskNode[]>();
    const all = this.core?.tasks.list() ?? [];
    this.changesToReview = this.core?.changeSets.pendingCounts() ?? new Map();
    if (this.core) {
      const agents = new Map(this.core.agents.list().map(a => [a.id, a]));
      for (const task of all) {
        const list = byStatus.get(task.status) ?? [];
        list.push({ kind: 'task', task, assignee: task.assigneeId ? agents.get(task.assigneeId) : undefined });
        byStatus.set(task.status, list);
      }
    }
    this.cache = { byStatus, all };
    return byStatus;
  }

  getChildren(element?: TaskNode): TaskNode[] {
    const byStatus = this.load();
    if (!element) {
      return GROUP_ORDER.filter(s => byStatus.get(s)?.length).map(status => ({ kind: 'group', status, count: byStatus.get(status)!.length }));
    }
    return element.kind === 'group' ? (byStatus.get(element.status) ?? []) : [];
  }

  getTreeItem(node: TaskNode): vscode.TreeItem {
    if (node.kind === 'group') {
      const open = node.status !== 'completed' && node.status !== 'cancelled';
      const item = new vscode.TreeItem(
        `${GROUP_LABEL[node.status]} (${node.count})`,
        open ? vscode.TreeItemCollapsibleState.Expanded : vscode.TreeItemCollapsibleState.Collapsed,
      );
      item.id = `group:${node.status}`;
      item.iconPath = STATUS_ICON[node.status];
      item.contextValue = `group.${node.status}`;
      return item;
    }
    const t = node.task;
    const item = new vscode.TreeItem(t.title, vscode.TreeItemCollapsibleState.None);
    item.id = `task:${t.id}`;
    const who = node.assignee ? `@${node.assignee.name}` : 'unassigned';
    const queue = t.status === 'pending' ? this.core?.scheduler.queueInfo(t.id) : undefined;
    const review = t.reviewRound && !t.reviewOf ? this.core?.app.reviewState(t, this.cache?.all) : undefined;
    const reviewText = review
      ? t.status === 'in_review'
        ? `in review · round ${review.round}/${review.maxRounds}${review.reviewer ? ` · @${review.reviewer}` : review.hint ? ` · ${review.hint}` : ''}`
        : t.status === 'pending' ? `changes requested · round ${review.round}/${review.maxRounds}` : undefined
      : undefined;
    const changes = this.changesToReview.get(t.id);
    item.description = [who, PRIORITY_LABELS[t.priority], reviewText, queue, changes ? `${changes} change${changes > 1 ? 's' : ''} to review` : undefined].filter(Boolean).join(' · ');
    item.iconPath = STATUS_ICON[t.status];
    item.contextValue = `task.${t.status}`;
    item.command = { command: 'ai2ai.showTask', title: 'Show Task Details', arguments: [node] };
    item.accessibilityInformation = { label: `Task ${t.title}, ${GROUP_LABEL[t.status]}, ${who}, priority ${PRIORITY_LABELS[t.priority]}` };
    const md = new vscode.MarkdownString();
    md.appendText(t.title);
    md.appendMarkdown(`\n\n**${GROUP_LABEL[t.status]}** · priority ${PRIORITY_LABELS[t.priority]} · ${who} · created ${relativeTime(t.createdAt)}`);
    if (queue) md.appendMarkdown('\n\n').appendText(`Waiting: ${queue}`);
    if (reviewText) md.appendMarkdown('\n\n').appendText(reviewText[0].toUpperCase() + reviewText.slice(1));
    if (t.assignReason && node.assignee) md.appendMarkdown('\n\n').appendText(`Why ${node.assignee.name}: ${t.assignReason}`);
    if (t.requiredSkills.length) md.appendMarkdown(`\n\nSkills: ${t.requiredSkills.join(', ')}`);
    if (t.dependsOn.length) md.appendMarkdown(`\n\nWaits for ${t.dependsOn.length} other task(s)`);
    if (t.description) md.appendMarkdown('\n\n---\n\n').appendText(t.description.slice(0, 1000));
    if (t.failureReason) md.appendMarkdown('\n\n').appendText(`Reason: ${t.failureReason}`);
    if (t.result) md.appendMarkdown('\n\n').appendText(`Result: ${t.result.slice(0, 500)}`);
    item.tooltip = md;
    return item;
  }
}
