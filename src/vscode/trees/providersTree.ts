/** The Providers view: each model server with its kind, URL and last health check. */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import type { Provider } from '../../core/model/schemas';
import { hostOf } from '../flows/agentFlows';
import { TreeBase } from './base';

export type ProviderNode = { kind: 'provider'; provider: Provider };

export class ProvidersTree extends TreeBase<ProviderNode> {
  protected cares(entity: string): boolean {
    return entity === 'provider';
  }

  protected override moreEvents(core: Core) {
    return [core.providers.onDidChangeHealth];
  }

  getChildren(element?: ProviderNode): ProviderNode[] {
    if (!this.core || element) return [];
    return this.core.providers.list().map(provider => ({ kind: 'provider', provider }));
  }

  getTreeItem(node: ProviderNode): vscode.TreeItem {
    const p = node.provider;
    const health = this.core?.providers.lastHealth(p.id);
    const item = new vscode.TreeItem(p.name, vscode.TreeItemCollapsibleState.None);
    item.id = `provider:${p.id}`;
    const state = !health ? 'not checked' : health.ok ? `online${health.version ? ` ${health.version}` : ''}` : 'offline';
    // The state first: a normal-width sidebar cuts the end of the line, not its start.
    item.description = `${state} · ${hostOf(p.baseUrl)}`;
    item.iconPath = !health
      ? new vscode.ThemeIcon('circle-large-outline')
      : health.ok
        ? new vscode.ThemeIcon('pass-filled', new vscode.ThemeColor('testing.iconPassed'))
        : new vscode.ThemeIcon('error', new vscode.ThemeColor('testing.iconFailed'));
    item.tooltip = `${p.name}: ${state}\n${p.kind === 'ollama' ? 'Ollama' : p.kind === 'vscode' ? "VS Code's language models" : 'OpenAI-compatible'} at ${p.baseUrl}, ${p.maxConcurrency} request(s) at once${health && !health.ok ? `\n\nOffline: ${health.reason}` : ''}`;
    item.accessibilityInformation = { label: `Model provider ${p.name}, ${state}, ${p.baseUrl}` };
    item.contextValue = `provider.${p.kind}`;
    return item;
  }
}
