/**
 * Running agents: a run is a cancellable progress notification showing the current step; the live
 * transcript goes to the agent's own output channel; commands outside the allowlist ask the user first.
 */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { AppError } from '../../core/errors';
import type { LoopEvent } from '../../core/loop/agentLoop';
import type { RunHost } from '../../core/loop/runService';
import { approvalText } from '../../core/tools';
import type { CommandSandboxes } from '../commandSandbox';
import type { Agent, Run, Task } from '../../core/model/schemas';
import type { Config } from '../config';
import type { Prompter } from '../input';
import type { AgentNode } from '../trees/agentsTree';
import type { TaskNode } from '../trees/tasksTree';

export class RunFlows implements vscode.Disposable {
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly running = new Map<string, AbortController>();

  constructor(
    private readonly core: () => Promise<Core>,
    private readonly prompter: Prompter,
    private readonly config: Config,
    private readonly sandboxes?: CommandSandboxes,
  ) {}

  /** Runs the task's agent on it (asking for an agent first if it has none). */
  async runTask(node?: TaskNode): Promise<Run | undefined> {
    const core = await this.core();
    let task = node?.kind === 'task' ? core.tasks.get(node.task.id) : await this.pickTask(core);
    if (!task) return undefined;
    if (!task.assigneeId) {
      task = (await vscode.commands.executeCommand<Task | undefined>('ai2ai.assignTask', { kind: 'task', task })) ?? undefined;
      if (!task?.assigneeId) return undefined;
    }
    if (task.status === 'failed' || task.status === 'cancelled') task = core.tasks.retry(task.id);
    return this.run(core, task, core.agents.get(task.assigneeId!));
  }

  /** Starts an agent on its most urgent pending task. */
  async startAgent(node?: AgentNode): Promise<Run | undefined> {
    const core = await this.core();
    const agent = (node && core.agents.get(node.agent.id)) ?? (await this.pickAgent(core));
    if (!agent) return undefined;
    const next = core.tasks.list({ status: ['pending'], assigneeId: agent.id })[0];
    if (!next) {
      void vscode.window.showInformationMessage(`${agent.name} has no pending task. Assign one to it first.`, 'Assign Task').then(a => a && vscode.commands.executeCommand('ai2ai.assignTask'));
      return undefined;
    }
    return this.run(core, next, agent);
  }

  /** Cancels a running task's run (from the tree or the palette). */
  stop(taskId: string): boolean {
    const ac = this.running.get(taskId);
    ac?.abort();
    return !!ac;
  }

  isRunning(taskId: string): boolean {
    return this.running.has(taskId);
  }

  private run(core: Core, task: Task, agent: Agent): Promise<Run> {
    const out = this.channel(agent);
    out.clear();
    out.appendLine(`# ${agent.name} (${agent.model}) on "${task.title}": ${new Date().toLocaleString()}`);
    const ac = new AbortController();
    this.running.set(task.id, ac);
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `AI2AI: ${agent.name} · ${task.title}`, cancellable: true },
        async (progress, token) => {
          token.onCancellationRequested(() => ac.abort());
          progress.report({ message: 'starting…' });
          try {
            const run = await core.runs.run(task.id, {
              signal: ac.signal,
              host: this.host(),
              budgets: this.config.budgets(),
              onEvent: e => this.show(e, out, progress),
            });
            out.appendLine(`\n# ${run.outcome}${run.reason ? `: ${run.reason}` : ''} (${run.steps} steps, ${run.promptTokens + run.completionTokens} tokens)`);
            this.notify(run, task, agent, out);
            return run;
          } finally {
            this.running.delete(task.id);
          }
        },
      ),
    );
  }

  private host(): RunHost {
    const sandboxes = this.sandboxes;
    return {
      trusted: () => vscode.workspace.isTrusted,
      allowlist: () => this.config.settings.commands.allowlist,
      ...(sandboxes ? { commands: () => sandboxes.setup(true) } : {}),
      approve: async (command, request) => {
        const run = 'Run';
        // Control, bidi and zero-width characters are shown as markers: the dialog shows what runs.
        const text = approvalText(command, request);
        const answer = await vscode.window.showWarningMessage(text.message, { modal: true, detail: text.detail }, run);
        return answer === run;
      },
    };
  }

  private show(e: LoopEvent, out: vscode.OutputChannel, progress: vscode.Progress<{ message?: string }>): void {
    switch (e.type) {
      case 'model':
        out.append(`\n--- step ${e.step}: model ---\n`);
        progress.report({ message: `step ${e.step}: thinking…` });
        break;
      case 'delta':
        out.append(e.text);
        break;
      case 'action':
        progress.report({ message: `step ${e.step}: ${e.call.name} ${String(e.call.args.path ?? e.call.args.command ?? '')}`.trim() });
        break;
      case 'tool':
        out.append(`\n--- ${e.call.name}: ${e.result.ok ? 'ok' : 'failed'} ---\n${e.result.output}\n`);
        break;
      case 'tests':
        progress.report({ message: `tests: ${e.passed} passed, ${e.failed} failed` });
        break;
      case 'malformed':
        out.append(`\n--- unusable reply (${e.count}) ---\n${e.error}\n`);
        break;
      case 'reply':
        break; // already shown piece by piece
      case 'retry':
        out.append(`\n--- retrying in ${e.delayMs} ms: ${e.reason} ---\n`);
        break;
      default:
        out.append(`\n--- ${e.type} ---\n`);
    }
  }

  private notify(run: Run, task: Task, agent: Agent, out: vscode.OutputChannel): void {
    const show = 'Show Transcript';
    if (run.outcome === 'completed') {
      void vscode.window.showInformationMessage(`${agent.name} completed "${task.title}" (${run.testsPassed} tests passing).`, show).then(a => a && out.show());
    } else if (run.outcome !== 'cancelled') {
      const msg = `${agent.name} did not finish "${task.title}": ${run.reason ?? run.outcome}`;
      const pull = /pull/i.test(run.reason ?? '') ? 'Pull Model' : undefined;
      void vscode.window.showWarningMessage(msg, ...(pull ? [pull] : []), show).then(a => {
        if (a === show) out.show();
        if (a === pull) void vscode.commands.executeCommand('ai2ai.pullModel', agent.model, agent.providerId);
      });
    }
  }

  private channel(agent: Agent): vscode.OutputChannel {
    let c = this.channels.get(agent.id);
    if (!c) {
      c = vscode.window.createOutputChannel(`AI2AI Agent: ${agent.name}`);
      this.channels.set(agent.id, c);
    }
    return c;
  }

  private async pickTask(core: Core): Promise<Task | undefined> {
    const tasks = core.tasks.list({ status: ['pending', 'failed', 'cancelled'] });
    if (!tasks.length) throw new AppError('validation', 'There is no pending task to run. Create one first.');
    const names = new Map(core.agents.list().map(a => [a.id, a.name]));
    const items = tasks.map(task => ({ label: task.title, description: task.assigneeId ? `@${names.get(task.assigneeId)}` : 'unassigned', task }));
    const v = await this.prompter.pick(items, { title: 'Run Task', placeholder: 'Which task should its agent work on?' });
    return typeof v === 'object' ? v.task : undefined;
  }

  private async pickAgent(core: Core): Promise<Agent | undefined> {
    const items = core.agents.list().filter(a => a.enabled).map(agent => ({ label: agent.name, description: `${agent.model} · ${agent.status}`, agent }));
    if (!items.length) throw new AppError('validation', 'There is no enabled agent. Create one first.');
    const v = await this.prompter.pick(items, { title: 'Start Agent', placeholder: 'Which agent?' });
    return typeof v === 'object' ? v.agent : undefined;
  }

  dispose(): void {
    for (const ac of this.running.values()) ac.abort();
    for (const c of this.channels.values()) c.dispose();
  }
}
