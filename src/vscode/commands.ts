/**
 * Every command in one table, registered in one loop. A unit test checks the table's ids against
 * package.json, and every handler is wrapped so a failure becomes a message, never an unhandled rejection.
 */
import * as vscode from 'vscode';
import type { CommandId } from './commandIds';
import { showError } from './errors';
import type { AgentFlows } from './flows/agentFlows';
import type { ProviderFlows } from './flows/providerFlows';
import type { RunFlows } from './flows/runFlows';
import type { TaskFlows } from './flows/taskFlows';
import type { Log } from './log';
import type { AgentNode } from './trees/agentsTree';
import type { ProviderNode } from './trees/providersTree';
import type { TaskNode } from './trees/tasksTree';

export interface CommandContext {
  agents: AgentFlows;
  tasks: TaskFlows;
  runs: RunFlows;
  providers: ProviderFlows;
  log: Log;
  refresh(): void;
}

type Handler = (ctx: CommandContext, ...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

export const COMMANDS: Record<CommandId, Handler> = {
  'ai2ai.createAgent': ctx => ctx.agents.create(),
  'ai2ai.editAgent': (ctx, node?: AgentNode) => ctx.agents.edit(node),
  'ai2ai.deleteAgent': (ctx, node?: AgentNode) => ctx.agents.delete(node),
  'ai2ai.enableAgent': (ctx, node?: AgentNode) => ctx.agents.setEnabled(node, true),
  'ai2ai.disableAgent': (ctx, node?: AgentNode) => ctx.agents.setEnabled(node, false),
  'ai2ai.openAgentWorkspace': (ctx, node?: AgentNode) => ctx.agents.openWorkspace(node),
  'ai2ai.createTask': ctx => ctx.tasks.create(),
  'ai2ai.editTask': (ctx, node?: TaskNode) => ctx.tasks.edit(node),
  'ai2ai.deleteTask': (ctx, node?: TaskNode) => ctx.tasks.delete(node),
  'ai2ai.cancelTask': (ctx, node?: TaskNode) => (node?.kind === 'task' && ctx.runs.stop(node.task.id) ? true : ctx.tasks.cancel(node)),
  'ai2ai.retryTask': (ctx, node?: TaskNode) => ctx.tasks.retry(node),
  'ai2ai.assignTask': (ctx, node?: TaskNode, agentId?: string) => ctx.tasks.assign(node, agentId),
  'ai2ai.showTask': (ctx, node?: TaskNode) => ctx.tasks.show(node),
  'ai2ai.runTask': (ctx, node?: TaskNode) => ctx.runs.runTask(node),
  'ai2ai.startAgent': (ctx, node?: AgentNode) => ctx.runs.startAgent(node),
  'ai2ai.addProvider': ctx => ctx.providers.add(),
  'ai2ai.editProvider': (ctx, node?: ProviderNode) => ctx.providers.edit(node),
  'ai2ai.removeProvider': (ctx, node?: ProviderNode) => ctx.providers.remove(node),
  'ai2ai.setProviderApiKey': (ctx, node?: ProviderNode) => ctx.providers.setApiKey(node),
  'ai2ai.testConnection': (ctx, node?: ProviderNode) => ctx.providers.test(node),
  'ai2ai.listModels': (ctx, node?: ProviderNode) => ctx.providers.listModels(node),
  'ai2ai.pullModel': (ctx, model?: string, providerId?: string) => ctx.providers.pull(typeof model === 'string' ? model : undefined, providerId),
  'ai2ai.refresh': ctx => ctx.refresh(),
  'ai2ai.showLog': ctx => ctx.log.show(),
};

export function registerCommands(ctx: CommandContext): vscode.Disposable[] {
  return (Object.keys(COMMANDS) as CommandId[]).map(id =>
    vscode.commands.registerCommand(id, async (...args: unknown[]) => {
      try {
        return await COMMANDS[id](ctx, ...args);
      } catch (e) {
        void showError(e, ctx.log);
        return undefined;
      }
    }),
  );
}
