/** How well an agent fits a task by skills; the assign picker shows this and sorts by it. */
import type { Agent, Task } from '../model/schemas';

export interface SkillMatch {
  matched: string[];
  missing: string[];
  /** 1 when every required skill is covered (or none is required), down to 0. */
  score: number;
  available: boolean;
}

export function skillMatch(agent: Agent, task: Pick<Task, 'requiredSkills'>): SkillMatch {
  const has = new Set(agent.skills);
  const matched = task.requiredSkills.filter(s => has.has(s));
  const missing = task.requiredSkills.filter(s => !has.has(s));
  const score = task.requiredSkills.length ? matched.length / task.requiredSkills.length : 1;
  return { matched, missing, score, available: agent.enabled && agent.status === 'ready' };
}

/** Best first: full skill cover, then available, then name. */
export function rankAgents(agents: readonly Agent[], task: Pick<Task, 'requiredSkills'>): Array<{ agent: Agent; match: SkillMatch }> {
  return agents
    .map(agent => ({ agent, match: skillMatch(agent, task) }))
    .sort(
      (a, b) =>
        b.match.score - a.match.score ||
        Number(b.match.available) - Number(a.match.available) ||
        a.agent.name.localeCompare(b.agent.name),
    );
}
