/** The Tasks view: tasks grouped by status (with counts), each showing assignee and priority. */
import * as vscode from 'vscode';
import { PRIORITY_LABELS, type Agent, type Task, type TaskStatus } from '../../core/model/schemas';
import type { Core } from '../../core';
import { TreeBase, relativeTime } from './base';

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
  private cache: { byStatus: Map<TaskStatus, TaskNode[]> } | undefined;

  protected cares(entity: string): boolean {
    return entity === 'task' || entity === 'agent' || entity === 'change';
  }

  protected override moreEvents(core: Core) {
    return [core.scheduler.onDidChangeQueue];
  }

  protected override invalidate(): void {
    this.cache = undefined;
  }

  /** Proposed changes waiting for a decision, per task (one query per repaint). */
  private changesToReview = new Map<string, number>();

  /** One read of the board per repaint, shared by every group. */
  private load(): Map<TaskStatus, TaskNode[]> {
    if (this.cache) return this.cache.byStatus;
    const byStatus = new Map<TaskStatus, TaskNode[]>();
    this.changesToReview = this.core?.changeSets.pendingCounts() ?? new Map();
    if (this.core) {
      const agents = new Map(this.core.agents.list().map(a => [a.id, a]));
      for (const task of this.core.tasks.list()) {
        const list = byStatus.get(task.status) ?? [];
        list.push({ kind: 'task', task, assignee: task.assigneeId ? agents.get(task.assigneeId) : undefined });
        byStatus.set(task.status, list);
      }
    }
    this.cache = { byStatus };
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
    const changes = this.changesToReview.get(t.id);
    item.description = `${who} · ${PRIORITY_LABELS[t.priority]}${queue ? ` · ${queue}` : ''}${changes ? ` · ${changes} change${changes > 1 ? 's' : ''} to review` : ''}`;
    item.iconPath = STATUS_ICON[t.status];
    item.contextValue = `task.${t.status}`;
    item.command = { command: 'ai2ai.showTask', title: 'Show Task Details', arguments: [node] };
    item.accessibilityInformation = { label: `Task ${t.title}, ${GROUP_LABEL[t.status]}, ${who}, priority ${PRIORITY_LABELS[t.priority]}` };
    const md = new vscode.MarkdownString();
    md.appendText(t.title);
    md.appendMarkdown(`\n\n**${GROUP_LABEL[t.status]}** · priority ${PRIORITY_LABELS[t.priority]} · ${who} · created ${relativeTime(t.createdAt)}`);
    if (queue) md.appendMarkdown('\n\n').appendText(`Waiting: ${queue}`);
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
