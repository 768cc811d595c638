/**
 * Agents working together during a run: messages other agents sent, delivered into the recipient's next turn
 * (recorded on its task), and questions another agent's model answers in one completion, within that
 * provider's slots and a cap per run.
 */
import type { AgentService } from '../agents/agentService';
import { slotsInUse } from '../app/claims';
import type { Claim } from '../app/claims';
import { AppError } from '../errors';
import type { Clock } from '../ports';
import type { ProviderService } from '../providers/providerService';
import type { Store } from '../store/types';
import type { ActivityService } from '../tasks/activityService';
import type { TaskService } from '../tasks/taskService';

/** Questions one run may ask other agents. */
export const ASK_LIMIT = 5;

export class Teamwork {
  constructor(
    private readonly d: {
      store: Store;
      agents: AgentService;
      tasks: TaskService;
      activity: ActivityService;
      providers: ProviderService;
      clock: Clock;
    },
  ) {}

  /** New messages for this agent since its last turn, recorded on its task as they arrive. */
  deliver(agentId: string, taskId: string, names: Map<string, string>): string[] {
    const { activity } = this.d;
    const fresh = activity.inbox(agentId, { unreadOnly: true });
    if (!fresh.length) return [];
    activity.markRead(fresh.map(m => m.id));
    return fresh.map(m => {
      const from = (m.fromAgent && names.get(m.fromAgent)) ?? 'the user';
      try {
        activity.appendUpdate({ taskId, agentId, kind: 'progress', body: `Message from ${from}: ${m.body}`.slice(0, 20_000) });
      } catch {
        // the task is gone: the message still reaches the agent
      }
      return `Message from ${from} (another agent; reply with send_message if needed):\n${m.body}`;
    });
  }

  private asks = new Map<string, number>();

  forgetRun(runId: string): void {
    this.asks.delete(runId);
  }

  /**
   * Another agent's model answers in one completion, from its role, skills and current task, on its own
   * provider within that provider's slots (the asker's own slot when they share provider and model). The
   * answer cannot ask anyone else: it gets no tools, and an action in it is refused.
   */
  async ask(claim: Claim, to: string, question: string, names: Map<string, string>, signal: AbortSignal) {
    const { agents, tasks, activity, providers } = this.d;
    const target = agents.findByName(to);
    if (!target) throw new AppError('validation', `There is no agent named "${to}". Agents: ${[...names.values()].join(', ')}.`);
    if (target.id === claim.agent.id) throw new AppError('validation', 'You cannot ask yourself: decide, or ask another agent.');
    const n = (this.asks.get(claim.runId) ?? 0) + 1;
    if (n > ASK_LIMIT) throw new AppError('validation', `You already asked ${ASK_LIMIT} questions in this run: decide with what you know.`);
    this.asks.set(claim.runId, n);
    const shared = target.providerId === claim.provider.id && target.model === claim.agent.model;
    if (!shared) await this.waitForSlot(target.providerId, target.model, signal);
    const current = tasks.list({ status: ['in_progress'], assigneeId: target.id })[0];
    const system = [
      `You are ${target.name}, an AI agent working as a ${target.role} in a team of agents.`,
      target.skills.length ? `Your skills: ${target.skills.join(', ')}.` : '',
      current ? `You are working on "${current.title}"${current.description ? `: ${current.description.slice(0, 2000)}` : ''}.` : '',
      `${claim.agent.name} (${claim.agent.role}) asks you a question about their task "${claim.task.title}". Answer briefly and concretely, in plain text.`,
      'You cannot use tools or ask anyone else.',
    ].filter(Boolean).join('\n');
    activity.send({ fromAgent: claim.agent.id, toAgent: target.id, taskId: claim.task.id, body: `Question: ${question}` });
    const reply = await providers.client(target.providerId).chat(
      { model: target.model, messages: [{ role: 'system', content: system }, { role: 'user', content: question }], options: { numCtx: target.settings.numCtx ?? 8192, temperature: target.settings.temperature } },
      signal,
    );
    let answer = reply.content.trim() || '(no answer)';
    if (/<(ask|send_message|create_subtasks)>/.test(answer)) {
      answer = `${answer.replace(/<(ask|send_message|create_subtasks)>[\s\S]*?(<\/\1>|$)/g, '').trim() || '(no answer)'}\n(${target.name} tried to ask someone else; an answer cannot ask: decide with this answer.)`;
    }
    activity.send({ fromAgent: target.id, toAgent: claim.agent.id, taskId: claim.task.id, body: `Answer: ${answer}` });
    activity.markRead(activity.inbox(claim.agent.id, { unreadOnly: true }).filter(m => m.fromAgent === target.id && m.body === `Answer: ${answer}`).map(m => m.id));
    if (current) {
      try {
        activity.appendUpdate({ taskId: current.id, agentId: target.id, kind: 'progress', body: `Answered ${claim.agent.name}: ${question.slice(0, 300)} → ${answer.slice(0, 2000)}` });
      } catch {
        // its task ended meanwhile
      }
    }
    return { answer, promptTokens: reply.promptTokens, completionTokens: reply.completionTokens };
  }

  /** Waits (bounded) until the provider serves fewer runs of the model than its slots. */
  private async waitForSlot(providerId: string, model: string, signal: AbortSignal): Promise<void> {
    const deadline = this.d.clock.now() + 60_000;
    for (;;) {
      const p = this.d.providers.get(providerId);
      if (slotsInUse(this.d.store.read, providerId, model) < p.maxConcurrency) return;
      if (this.d.clock.now() > deadline) throw new AppError('no_slot', `${p.name} stayed busy with ${model} for a minute: ask again later, or decide yourself.`);
      if (signal.aborted) throw new AppError('cancelled', 'Cancelled.');
      await new Promise(r => setTimeout(r, 200));
    }
  }
}
