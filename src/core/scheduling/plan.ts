/**
 * One scheduling decision, as a pure function of the board: which waiting tasks start now, on which agent
 * and provider, and why every other one waits ("queued #2 for gemma3:1b on Ollama (this machine)").
 *
 * Rules: tasks in order of priority, then age; an assigned task waits for its own agent, an unassigned one
 * (auto-run only) goes to the best-scoring free agent that covers at least one required skill; a provider
 * and model never get more runs than the provider's slots (its `maxConcurrency`, Ollama's
 * OLLAMA_NUM_PARALLEL), so no more agents share one model than it has slots and their prompt caches are
 * not evicted by each other; an offline provider pauses its queue; among providers serving the model
 * (agents may run on "any provider with this model") the one with the model loaded, then the most free
 * slots, wins.
 */
import type { Agent, Provider, Task } from '../model/schemas';
import { rankByScore, type ScoreContext } from './score';

export interface ProviderView {
  provider: Provider;
  /** undefined: not checked yet (treated as online). */
  online?: boolean;
  offlineReason?: string;
  /** Models it serves; undefined when unknown (then only agents bound to it use it). */
  models?: ReadonlySet<string>;
  loaded?: ReadonlySet<string>;
}

export interface PlanInput {
  /** Pending tasks, in queue order (priority, then age). */
  tasks: readonly Task[];
  /** Tasks a person asked to run: candidates even when auto-run is off. */
  requested: ReadonlySet<string>;
  autoRun: boolean;
  agents: readonly Agent[];
  providers: ReadonlyMap<string, ProviderView>;
  /** Runs holding a slot now, per provider and model (every window's). */
  slotsUsed(providerId: string, model: string): number;
  score: Omit<ScoreContext, 'loaded'>;
  /** An agent that may not take this task (a review's author). */
  excluded?(task: Task): string | undefined;
  /** Tasks that run without auto-run or a request: parents waiting on subtasks and their subtasks. */
  auto?(task: Task): boolean;
}

export interface Start {
  taskId: string;
  agentId: string;
  providerId: string;
  /** For an agent the scheduler chose: why ("skills 2/2, 8 of 9 past typescript tasks passed, model loaded"). */
  reason?: string;
}

export interface Plan {
  starts: Start[];
  /** Why each considered task that does not start now waits. */
  waiting: Map<string, string>;
}

const key = (providerId: string, model: string) => `${providerId}\u0000${model}`;

export function plan(input: PlanInput): Plan {
  const starts: Start[] = [];
  const waiting = new Map<string, string>();
  const agentsById = new Map(input.agents.map(a => [a.id, a]));
  const free = new Set(input.agents.filter(a => a.enabled && a.status === 'ready').map(a => a.id));
  const enabled = input.agents.filter(a => a.enabled && a.status !== 'offline');
  const extra = new Map<string, number>(); // slots taken by this plan
  const queued = new Map<string, number>(); // waiting tasks per provider and model, for positions
  const used = (p: string, m: string) => input.slotsUsed(p, m) + (extra.get(key(p, m)) ?? 0);

  const providersFor = (agent: Agent): ProviderView[] => {
    const own = input.providers.get(agent.providerId);
    const list = own ? [own] : [];
    if (agent.settings.anyProvider) {
      for (const v of input.providers.values()) if (v !== own && v.models?.has(agent.model)) list.push(v);
    }
    return list;
  };
  const loaded = (agent: Agent) => providersFor(agent).some(v => v.online !== false && !!v.loaded?.has(agent.model));
  const scoreCtx: ScoreContext = { ...input.score, loaded };
  // Tasks with the same skills rank the agents the same way (unless an agent failed that very task):
  // one ranking per skill set keeps a decision over 1,000 tasks within a few milliseconds.
  const failedSomewhere = new Set<string>();
  for (const r of input.score.records.values()) for (const id of r.failedTasks.keys()) failedSomewhere.add(id);
  const rankings = new Map<string, ReturnType<typeof rankByScore>>();
  const rank = (task: Task, candidates: readonly Agent[], excluded: string | undefined) => {
    if (failedSomewhere.has(task.id)) return rankByScore(task, candidates, scoreCtx);
    const key = `${excluded ?? ''}\u0001${[...task.requiredSkills].sort().join('\u0000')}`;
    let r = rankings.get(key);
    if (!r) rankings.set(key, (r = rankByScore(task, candidates, scoreCtx)));
    return r;
  };

  /** The provider that would serve this agent now, or why none can. */
  const pickProvider = (agent: Agent): { view?: ProviderView; blocked?: { why: 'offline' | 'full'; view: ProviderView } } => {
    const views = providersFor(agent);
    if (!views.length) return {};
    const online = views.filter(v => v.online !== false);
    if (!online.length) return { blocked: { why: 'offline', view: views[0] } };
    const withSlot = online
      .map(v => ({ v, freeSlots: v.provider.maxConcurrency - used(v.provider.id, agent.model) }))
      .filter(x => x.freeSlots > 0)
      .sort((a, b) => Number(!!b.v.loaded?.has(agent.model)) - Number(!!a.v.loaded?.has(agent.model)) || b.freeSlots - a.freeSlots);
    if (withSlot.length) return { view: withSlot[0].v };
    return { blocked: { why: 'full', view: online[0] } };
  };

  const wait = (task: Task, agent: Agent | undefined, blocked?: { why: 'offline' | 'full'; view: ProviderView }) => {
    if (!agent) return;
    if (blocked?.why === 'offline') {
      waiting.set(task.id, `paused: ${blocked.view.provider.name} is offline${blocked.view.offlineReason ? ` (${blocked.view.offlineReason})` : ''}`);
    } else if (blocked?.why === 'full') {
      const k = key(blocked.view.provider.id, agent.model);
      const n = (queued.get(k) ?? 0) + 1;
      queued.set(k, n);
      waiting.set(task.id, `queued #${n} for ${agent.model} on ${blocked.view.provider.name}`);
    } else if (!free.has(agent.id)) {
      waiting.set(task.id, agent.status === 'error' ? `waiting for ${agent.name}, who needs attention: ${agent.statusReason ?? 'error'}` : `waiting for ${agent.name} (busy)`);
    }
  };

  for (const task of input.tasks) {
    if (task.status !== 'pending') continue;
    // Reviews, and work sent back by a review, keep the cycle going by themselves.
    const asked = input.requested.has(task.id) || task.reviewOf !== null || task.reviewRound > 0 || task.parentId !== null || !!input.auto?.(task);
    if (!input.autoRun && !asked) continue;
    if (task.assigneeId) {
      const agent = agentsById.get(task.assigneeId);
      if (!agent) {
        waiting.set(task.id, 'its agent no longer exists: assign it again');
        continue;
      }
      if (!agent.enabled) {
        waiting.set(task.id, `${agent.name} is disabled: enable it or assign the task to another agent`);
        continue;
      }
      const p = pickProvider(agent);
      if (!free.has(agent.id) && !(asked && agent.status === 'error')) {
        wait(task, agent);
        continue;
      }
      if (!p.view) {
        if (p.blocked) wait(task, agent, p.blocked);
        else waiting.set(task.id, `the model provider of ${agent.name} no longer exists: edit the agent`);
        continue;
      }
      take(task, agent, p.view);
      continue;
    }
    if (!free.size && !enabled.length) {
      waiting.set(task.id, 'no enabled agent: create one or enable one');
      continue;
    }
    // Unassigned: the best free agent that covers at least one required skill (never a review's author).
    const excluded = input.excluded?.(task);
    const candidates = (task.requiredSkills.length ? enabled.filter(a => task.requiredSkills.some(s => a.skills.includes(s))) : enabled).filter(a => a.id !== excluded);
    if (!candidates.length) {
      waiting.set(task.id, task.reviewOf
        ? 'no reviewer agent: create one with the review skill, or review it yourself'
        : `no enabled agent has the skill${task.requiredSkills.length > 1 ? 's' : ''} ${task.requiredSkills.join(', ')}`);
      continue;
    }
    if (!free.size) {
      waiting.set(task.id, 'waiting for a free agent');
      continue;
    }
    const ranked = rank(task, candidates, excluded);
    let started = false;
    let firstBlock: { agent: Agent; blocked?: { why: 'offline' | 'full'; view: ProviderView } } | undefined;
    for (const s of ranked) {
      if (!free.has(s.agent.id)) continue;
      const p = pickProvider(s.agent);
      if (p.view) {
        take(task, s.agent, p.view, s.reasons.join(', '));
        started = true;
        break;
      }
      firstBlock ??= { agent: s.agent, blocked: p.blocked };
    }
    if (!started) {
      if (firstBlock?.blocked) wait(task, firstBlock.agent, firstBlock.blocked);
      else waiting.set(task.id, 'waiting for a free agent');
    }
  }
  return { starts, waiting };

  function take(task: Task, agent: Agent, view: ProviderView, reason?: string): void {
    starts.push({ taskId: task.id, agentId: agent.id, providerId: view.provider.id, reason });
    free.delete(agent.id);
    const k = key(view.provider.id, agent.model);
    extra.set(k, (extra.get(k) ?? 0) + 1);
  }
}
