/**
 * Running agents: a run is a cancellable progress notification showing the current step; the live
 * transcript goes to the agent's own output channel; commands outside the allowlist ask the user first.
 */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { AppError } from '../../core/errors';
import type { LoopEvent } from '../../core/loop/agentLoop';
import { RUN_ERROR_KINDS } from '../../core/app/application';
import type { RequestOptions } from '../../core/scheduling/scheduler';
import type { Agent, Run, Task } from '../../core/model/schemas';
import type { Prompter } from '../input';
import { NO_TESTS_NOTE } from '../../core/loop/runService';
import { bufferedAppend, formatDuration } from '../../core/util';

const PULL = 'Pull Model…';

export class RunFlows implements vscode.Disposable {
  private readonly channels = new Map<string, vscode.OutputChannel>();
  /** Tasks run by hand from here: their end is shown by this flow, not by the notifications. */
  private readonly manual = new Set<string>();

  isManual(taskId: string): boolean {
    return this.manual.has(taskId);
  }

  constructor(
    private readonly core: () => Promise<Core>,
    private readonly prompter: Prompter,
  ) {}

  /** Runs the task's agent on it (asking for an agent first if it has none). */
  async runTask(taskId?: string): Promise<Run | undefined> {
    const core = await this.core();
    let task = taskId ? core.tasks.get(taskId) : await this.pickTask(core);
    if (!task) return undefined;
    if (!task.assigneeId) {
      task = (await vscode.commands.executeCommand<Task | undefined>('ai2ai.assignTask', task.id)) ?? undefined;
      if (!task?.assigneeId) return undefined;
    }
    const agent = core.agents.get(task.assigneeId!);
    if (!agent.enabled) {
      // Refused before anything changes (the core checks it too); offer the way out.
      const enable = 'Enable Agent';
      const a = await this.prompter.notify('warning', `Agent "${agent.name}" is disabled, so "${task.title}" cannot run. Enable the agent first.`, enable);
      if (a !== enable) return undefined;
      await vscode.commands.executeCommand('ai2ai.enableAgent', agent.id);
      if (!core.agents.get(agent.id).enabled) return undefined;
      return this.runTask(task.id);
    }
    return this.run(core, task, agent, opts => core.app.runTask(task!.id, opts));
  }

  /** Starts an agent on its most urgent pending task. */
  async startAgent(agentId?: string): Promise<Run | undefined> {
    const core = await this.core();
    const agent = agentId ? core.agents.get(agentId) : await this.pickAgent(core);
    if (!agent) return undefined;
    const next = core.app.nextTaskFor(agent.id);
    if (!next) {
      void vscode.window.showInformationMessage(`${agent.name} has no pending task. Assign one to it first.`, 'Assign Task').then(a => a && vscode.commands.executeCommand('ai2ai.assignTask'));
      return undefined;
    }
    return this.run(core, next, agent, opts => core.app.startAgent(agent.id, opts));
  }

  private run(core: Core, task: Task, agent: Agent, start: (opts: RequestOptions) => Promise<Run>): Promise<Run> {
    const out = this.channel(agent);
    out.clear();
    out.appendLine(`# ${agent.name} (${agent.model}) on "${task.title}": ${new Date().toLocaleString()}`);
    return Promise.resolve(
      vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: `AI2AI: ${agent.name} · ${task.title}`, cancellable: true },
        async (progress, token) => {
          // The progress's Cancel is the same cancel as everywhere: the task ends cancelled.
          token.onCancellationRequested(() => {
            try {
              core.app.cancel(task.id);
            } catch {
              // already finished or cancelled
            }
          });
          progress.report({ message: 'starting…' });
          this.manual.add(task.id);
          let run: Run;
          // A timer may flush after the channel is gone (the window closing during a run): nothing to show then.
          const reply = bufferedAppend({
            append: text => {
              try {
                out.append(text);
              } catch {
                // the output channel was disposed
              }
            },
          });
          try {
            run = await start({
              onEvent: e => {
                if (e.type === 'delta') return reply.append(e.text);
                reply.flush();
                this.show(e, out, progress);
              },
              onWait: why => progress.report({ message: why }),
            });
          } finally {
            this.manual.delete(task.id);
            reply.flush();
          }
          out.appendLine(`\n# ${run.outcome}${run.reason ? `: ${run.reason}` : ''} (${run.steps} steps, ${run.promptTokens + run.completionTokens} tokens)`);
          this.notify(run, task, agent, out);
          return run;
        },
      ),
    );
  }

  private show(e: Exclude<LoopEvent, { type: 'delta' }>, out: vscode.OutputChannel, progress: vscode.Progress<{ message?: string }>): void {
    switch (e.type) {
      case 'model':
        out.append(`\n--- step ${e.step}: model ---\n`);
        progress.report({ message: `step ${e.step}: thinking…` });
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
        out.append(`\n--- ${e.reason} Retry ${e.attempt} of ${e.of} in ${formatDuration(e.delayMs)}. ---\n`);
        progress.report({ message: `model server problem: retry ${e.attempt} of ${e.of}…` });
        break;
      case 'no_tests':
        out.append(`\n--- ${NO_TESTS_NOTE} ---\n`);
        break;
      default:
        out.append(`\n--- ${e.type} ---\n`);
    }
  }

  /** How the run ended. Every action is a button; a message closed or dismissed runs nothing. */
  private notify(run: Run, task: Task, agent: Agent, out: vscode.OutputChannel): void {
    const show = 'Show Transcript';
    const details = 'Show Details';
    const act = (a: string | undefined) => {
      if (a === show) out.show();
      else if (a === details) void vscode.commands.executeCommand('ai2ai.showTask', task.id);
      else if (a === PULL && run.providerId) void vscode.commands.executeCommand('ai2ai.pullModel', agent.model, run.providerId);
    };
    if (run.outcome === 'completed') {
      // Said plainly when nothing tested the work.
      const tests = run.reason === NO_TESTS_NOTE ? ' without tests: none were found.' : ` (${run.testsPassed} test${run.testsPassed === 1 ? '' : 's'} passing).`;
      void this.prompter.notify('info', `${agent.name} completed "${task.title}"${tests}`, details, show).then(act);
    } else if (run.outcome === 'interrupted') {
      void this.prompter.notify('info', `"${task.title}" was interrupted and is back in the queue; its next run resumes where it stopped.`);
    } else if (run.outcome !== 'cancelled') {
      const msg = `${agent.name} did not finish "${task.title}": ${run.reason ?? run.outcome}`;
      // Pulling is offered only for a missing model (the run's error kind, not its text), and asks again first.
      const actions = run.errorKind === RUN_ERROR_KINDS.modelNotFound && run.providerId ? [PULL, details] : [details, show];
      void this.prompter.notify('warning', msg, ...actions).then(act);
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
    for (const c of this.channels.values()) c.dispose();
  }
}

