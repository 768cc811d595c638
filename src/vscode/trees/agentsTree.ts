/** The Agents view: each agent with its status, model and current task; skills and folder as children. */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import type { Agent, AgentStatus, Task } from '../../core/model/schemas';
import { TreeBase } from './base';

export type AgentNode =
  | { kind: 'agent'; agent: Agent; current?: Task }
  | { kind: 'detail'; agent: Agent; label: string; description: string; icon: string; command?: vscode.Command };

const STATUS_ICON: Record<AgentStatus, vscode.ThemeIcon> = {
  ready: new vscode.ThemeIcon('circle-filled', new vscode.ThemeColor('testing.iconPassed')),
  busy: new vscode.ThemeIcon('sync~spin', new vscode.ThemeColor('charts.blue')),
  error: new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed')),
  offline: new vscode.ThemeIcon('circle-slash', new vscode.ThemeColor('disabledForeground')),
};

export class AgentsTree extends TreeBase<AgentNode> {
  protected cares(entity: string): boolean {
    return entity === 'agent' || entity === 'task' || entity === 'provider';
  }

  /** A provider going offline or coming back changes what its agents' rows say. */
  protected override moreEvents(core: Core) {
    return [core.providers.onDidChangeHealth];
  }

  /** Why the agent's provider cannot serve it now, when it is known to be offline. */
  private providerDown(a: Agent): { name: string; reason: string } | undefined {
    const h = this.core?.providers.lastHealth(a.providerId);
    if (!h || h.ok) return undefined;
    const name = this.core?.providers.list().find(p => p.id === a.providerId)?.name ?? 'its model server';
    return { name, reason: h.reason };
  }

  getChildren(element?: AgentNode): AgentNode[] {
    if (!this.core) return [];
    if (!element) {
      const running = new Map<string, Task>();
      for (const t of this.core.tasks.list({ status: ['in_progress', 'in_review'] })) if (t.assigneeId) running.set(t.assigneeId, t);
      return this.core.agents.list().map(agent => ({ kind: 'agent', agent, current: running.get(agent.id) }));
    }
    if (element.kind !== 'agent') return [];
    const a = element.agent;
    const details: AgentNode[] = [
      { kind: 'detail', agent: a, label: 'Role', description: a.role, icon: 'person' },
      { kind: 'detail', agent: a, label: 'Skills', description: a.skills.join(', ') || 'none', icon: 'tools' },
      { kind: 'detail', agent: a, label: 'Model', description: `${a.model} on ${this.core.providers.list().find(p => p.id === a.providerId)?.name ?? 'a missing provider'}`, icon: 'hubot' },
      {
        kind: 'detail', agent: a, label: 'Folder', description: a.workspace, icon: 'folder',
        command: { command: 'ai2ai.openAgentWorkspace', title: 'Open Agent Workspace', arguments: [element] },
      },
    ];
    if (element.current) details.push({ kind: 'detail', agent: a, label: 'Working on', description: element.current.title, icon: 'play' });
    if (a.statusReason) details.push({ kind: 'detail', agent: a, label: 'Status', description: a.statusReason, icon: 'info' });
    const down = this.providerDown(a);
    if (down) details.push({ kind: 'detail', agent: a, label: 'Model server', description: `${down.name} is offline: ${down.reason}`, icon: 'warning' });
    return details;
  }

  getTreeItem(node: AgentNode): vscode.TreeItem {
    if (node.kind === 'detail') {
      const item = new vscode.TreeItem(node.label, vscode.TreeItemCollapsibleState.None);
      item.id = `agent:${node.agent.id}:${node.label}`;
      item.description = node.description;
      item.iconPath = new vscode.ThemeIcon(node.icon);
      item.tooltip = `${node.label}: ${node.description}`;
      item.command = node.command;
      return item;
    }
    const a = node.agent;
    const item = new vscode.TreeItem(a.name, vscode.TreeItemCollapsibleState.Collapsed);
    item.id = `agent:${a.id}`;
    const state = a.enabled ? a.status : 'disabled';
    // Shown until the provider answers again (the monitor re-checks it), then gone by itself.
    const down = a.enabled && a.status !== 'busy' ? this.providerDown(a) : undefined;
    item.description = [a.model, node.current ? `▶ ${node.current.title}` : down ? 'provider offline' : state].join(' · ');
    item.iconPath = down ? new vscode.ThemeIcon('warning', new vscode.ThemeColor('list.warningForeground')) : STATUS_ICON[a.status];
    item.contextValue = a.enabled ? 'agent.enabled' : 'agent.disabled';
    item.accessibilityInformation = { label: `Agent ${a.name}, ${down ? 'its model provider is offline' : state}, model ${a.model}` };
    const md = new vscode.MarkdownString(undefined, true);
    md.appendMarkdown(`**${escape(a.name)}**, ${escape(a.role)}\n\n`);
    md.appendMarkdown(`$(circle-filled) Status: ${state}${a.statusReason ? `: ${escape(a.statusReason)}` : ''}\n\n`);
    if (down) md.appendMarkdown(`$(warning) ${escape(down.name)} is offline: ${escape(down.reason)}\n\n`);
    md.appendMarkdown(`$(hubot) Model: \`${escape(a.model)}\`\n\n`);
    md.appendMarkdown(`$(tools) Skills: ${a.skills.length ? a.skills.map(escape).join(', ') : 'none'}\n\n`);
    md.appendMarkdown(`$(folder) Folder: \`${escape(a.workspace)}\``);
    if (node.current) md.appendMarkdown(`\n\n$(play) Working on: ${escape(node.current.title)}`);
    item.tooltip = md;
    return item;
  }
}

function escape(s: string): string {
  return s.replace(/[\\`*_{}[\]()#+\-.!|<>$]/g, '\\$&');
}
