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
import type { ApiHost } from './apiHost';
import type { ChangeReview } from './changeReview';
import type { FileFlows } from './flows/fileFlows';

export interface CommandContext {
  agents: AgentFlows;
  tasks: TaskFlows;
  runs: RunFlows;
  providers: ProviderFlows;
  log: Log;
  refresh(): void;
  openDashboard(): Promise<void>;
  diagnose(): Promise<unknown>;
  setAutoRun(on: boolean): Thenable<void>;
  showTranscript(runId?: string): Promise<unknown>;
  api: ApiHost;
  files: FileFlows;
  changes: ChangeReview;
}

type Handler = (ctx: CommandContext, ...args: any[]) => unknown; // eslint-disable-line @typescript-eslint/no-explicit-any

/**
 * The one resolver: commands take ids. A tree node (from a context menu or a click) is turned into the id
 * it names; a string is an id (from another command, a CodeLens, the API); anything else means "ask".
 */
export function idArg(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg) return arg;
  if (arg && typeof arg === 'object') {
    const n = arg as { kind?: string; task?: { id: string }; agent?: { id: string }; provider?: { id: string } };
    if (n.kind === 'task' && n.task) return n.task.id;
    if (n.kind === 'agent' && n.agent) return n.agent.id;
    if (n.kind === 'provider' && n.provider) return n.provider.id;
  }
  return undefined;
}

export const COMMANDS: Record<CommandId, Handler> = {
  'ai2ai.createAgent': ctx => ctx.agents.create(),
  'ai2ai.editAgent': (ctx, a?: unknown) => ctx.agents.edit(idArg(a)),
  'ai2ai.deleteAgent': (ctx, a?: unknown) => ctx.agents.delete(idArg(a)),
  'ai2ai.enableAgent': (ctx, a?: unknown) => ctx.agents.setEnabled(idArg(a), true),
  'ai2ai.disableAgent': (ctx, a?: unknown) => ctx.agents.setEnabled(idArg(a), false),
  'ai2ai.openAgentWorkspace': (ctx, a?: unknown) => ctx.agents.openWorkspace(idArg(a)),
  'ai2ai.createTask': ctx => ctx.tasks.create(),
  'ai2ai.editTask': (ctx, a?: unknown) => ctx.tasks.edit(idArg(a)),
  'ai2ai.deleteTask': (ctx, a?: unknown) => ctx.tasks.delete(idArg(a)),
  'ai2ai.cancelTask': (ctx, a?: unknown) => ctx.tasks.cancel(idArg(a)),
  'ai2ai.retryTask': (ctx, a?: unknown) => ctx.tasks.retry(idArg(a)),
  'ai2ai.assignTask': (ctx, a?: unknown, agentId?: string) => ctx.tasks.assign(idArg(a), typeof agentId === 'string' ? agentId : undefined),
  'ai2ai.showTask': (ctx, a?: unknown) => ctx.tasks.show(idArg(a)),
  'ai2ai.showTranscript': (ctx, a?: unknown) => ctx.showTranscript(idArg(a)),
  'ai2ai.runTask': (ctx, a?: unknown) => ctx.runs.runTask(idArg(a)),
  'ai2ai.startAgent': (ctx, a?: unknown) => ctx.runs.startAgent(idArg(a)),
  'ai2ai.addProvider': ctx => ctx.providers.add(),
  'ai2ai.editProvider': (ctx, a?: unknown) => ctx.providers.edit(idArg(a)),
  'ai2ai.removeProvider': (ctx, a?: unknown) => ctx.providers.remove(idArg(a)),
  'ai2ai.setProviderApiKey': (ctx, a?: unknown) => ctx.providers.setApiKey(idArg(a)),
  'ai2ai.testConnection': (ctx, a?: unknown) => ctx.providers.test(idArg(a)),
  'ai2ai.listModels': (ctx, a?: unknown) => ctx.providers.listModels(idArg(a)),
  'ai2ai.pullModel': (ctx, model?: string, providerId?: string) => ctx.providers.pull(typeof model === 'string' ? model : undefined, typeof providerId === 'string' ? providerId : undefined),
  'ai2ai.refresh': ctx => ctx.refresh(),
  'ai2ai.showLog': ctx => ctx.log.show(),
  'ai2ai.approveTask': (ctx, a?: unknown, summary?: string) => ctx.tasks.approve(idArg(a), typeof summary === 'string' ? summary : undefined),
  'ai2ai.requestChanges': (ctx, a?: unknown, comments?: string) => ctx.tasks.requestChanges(idArg(a), typeof comments === 'string' ? comments : undefined),
  'ai2ai.showChanges': (ctx, a?: unknown, file?: string) => ctx.tasks.showChanges(idArg(a), typeof file === 'string' ? file : undefined),
  'ai2ai.openDashboard': ctx => ctx.openDashboard(),
  'ai2ai.diagnose': ctx => ctx.diagnose(),
  'ai2ai.enableAutoRun': ctx => ctx.setAutoRun(true),
  'ai2ai.disableAutoRun': ctx => ctx.setAutoRun(false),
  'ai2ai.copyApiToken': ctx => ctx.api.copyToken(),
  'ai2ai.assignFile': (ctx, uri?: unknown) => ctx.files.assignFile(uri instanceof vscode.Uri ? uri : undefined),
  'ai2ai.assignSelection': ctx => ctx.files.assignSelection(),
  'ai2ai.reviewChanges': (ctx, a?: unknown, path?: unknown) => ctx.changes.review(idArg(a), typeof path === 'string' ? path : undefined),
  'ai2ai.acceptChange': (ctx, a?: unknown, path?: unknown) => ctx.changes.accept(a instanceof vscode.Uri ? a : idArg(a), typeof path === 'string' ? path : undefined),
  'ai2ai.rejectChange': (ctx, a?: unknown, path?: unknown) => ctx.changes.reject(a instanceof vscode.Uri ? a : idArg(a), typeof path === 'string' ? path : undefined),
  'ai2ai.acceptAllChanges': (ctx, a?: unknown) => ctx.changes.acceptAll(idArg(a)),
  'ai2ai.rejectAllChanges': (ctx, a?: unknown) => ctx.changes.rejectAll(idArg(a)),
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
