/**
 * Assignment by measured results: how well an agent fits a task from its skills, its record on those
 * skills (with a prior so a new agent gets a chance), earlier failed attempts at this very task, speed,
 * tokens, its queue and whether its model is warm. The scheduler and the manual Assign picker both rank
 * by this one score, and its reasons are recorded on the task.
 */
import type { Agent, Task } from '../model/schemas';
import type { ReadApi } from '../store/types';

export interface Tally {
  passed: number;
  total: number;
}

export interface AgentRecord {
  perSkill: Map<string, Tally>;
  overall: Tally;
  /** Mean duration and tokens of its finished runs (0 when none). */
  meanMs: number;
  meanTokens: number;
  /** Failed or errored runs per task id, so a task is not given again to the agent that just failed it. */
  failedTasks: Map<string, number>;
}

export type Records = Map<string, AgentRecord>;

export interface ScoreContext {
  records: Records;
  /** Whether the agent's model is loaded on a provider it can use. */
  loaded(agent: Agent): boolean;
  /** Tasks waiting for this agent already (assigned to it, pending). */
  queueOf(agent: Agent): number;
  /** Team mean run duration, to judge speed against. */
  teamMeanMs: number;
}

export interface AgentScore {
  agent: Agent;
  score: number;
  coverage: number;
  matched: number;
  reasons: string[];
}

/** Laplace's rule: passed+1 over total+2, so an agent with no record starts at one half. */
export const rate = (t: Tally | undefined) => ((t?.passed ?? 0) + 1) / ((t?.total ?? 0) + 2);

export function scoreAgent(task: Pick<Task, 'id' | 'requiredSkills'>, agent: Agent, ctx: ScoreContext): AgentScore {
  const has = new Set(agent.skills);
  const req = task.requiredSkills;
  const matched = req.filter(s => has.has(s)).length;
  const coverage = req.length ? matched / req.length : 1;
  const rec = ctx.records.get(agent.id);
  const reasons: string[] = [];
  reasons.push(req.length ? `skills ${matched}/${req.length}` : 'no skills required');

  // Record on the required skills it has (or overall when the task names none).
  let success: number;
  const relevant = req.filter(s => has.has(s));
  if (relevant.length) {
    success = relevant.reduce((a, s) => a + rate(rec?.perSkill.get(s)), 0) / relevant.length;
    const best = relevant.map(s => [s, rec?.perSkill.get(s)] as const).sort((a, b) => (b[1]?.total ?? 0) - (a[1]?.total ?? 0))[0];
    reasons.push(best[1]?.total ? `${best[1].passed} of ${best[1].total} past ${best[0]} tasks passed` : `no record on ${best[0]} yet`);
  } else {
    success = rate(rec?.overall);
    reasons.push(rec?.overall.total ? `${rec.overall.passed} of ${rec.overall.total} past tasks passed` : 'no record yet');
  }
  let score = coverage * 2 + success;
  const failedHere = rec?.failedTasks.get(task.id) ?? 0;
  if (failedHere) {
    score -= 0.3 * failedHere;
    reasons.push(`${failedHere} earlier attempt${failedHere > 1 ? 's' : ''} at this task failed`);
  }
  if (ctx.loaded(agent)) {
    score += 0.15;
    reasons.push('model loaded');
  }
  if (rec?.meanMs && ctx.teamMeanMs > 0) {
    // Up to ±0.1 for speed against the team.
    score += Math.max(-0.1, Math.min(0.1, 0.1 * (1 - rec.meanMs / ctx.teamMeanMs)));
  }
  const queue = ctx.queueOf(agent);
  if (queue) {
    score -= 0.05 * queue;
    reasons.push(`${queue} task${queue > 1 ? 's' : ''} already waiting for it`);
  }
  return { agent, score, coverage, matched, reasons };
}

/** Best first: the score, then the name (stable). */
export function rankByScore(task: Pick<Task, 'id' | 'requiredSkills'>, agents: readonly Agent[], ctx: ScoreContext): AgentScore[] {
  return agents.map(a => scoreAgent(task, a, ctx)).sort((a, b) => b.score - a.score || a.agent.name.localeCompare(b.agent.name));
}

/** Every agent's record from the finished runs (the last 5,000), one query. */
export function loadRecords(db: ReadApi): Records {
  const rows = db.all<{ agent_id: string; task_id: string; outcome: string; ms: number | null; tokens: number; skills: string }>(
    `SELECT r.agent_id, r.task_id, r.outcome, r.ended_at - r.started_at AS ms, r.prompt_tokens + r.completion_tokens AS tokens, t.required_skills AS skills
       FROM runs r JOIN tasks t ON t.id = r.task_id
      WHERE r.outcome IN ('completed', 'failed', 'error')
      ORDER BY r.started_at DESC LIMIT 5000`,
  );
  const out: Records = new Map();
  const sums = new Map<string, { ms: number; tokens: number; n: number }>();
  for (const r of rows) {
    let rec = out.get(r.agent_id);
    if (!rec) out.set(r.agent_id, (rec = { perSkill: new Map(), overall: { passed: 0, total: 0 }, meanMs: 0, meanTokens: 0, failedTasks: new Map() }));
    const ok = r.outcome === 'completed';
    rec.overall.total++;
    if (ok) rec.overall.passed++;
    else rec.failedTasks.set(r.task_id, (rec.failedTasks.get(r.task_id) ?? 0) + 1);
    let skills: string[] = [];
    try {
      skills = JSON.parse(r.skills) as string[];
    } catch {
      // a damaged row counts only overall
    }
    for (const s of skills) {
      const t = rec.perSkill.get(s) ?? { passed: 0, total: 0 };
      t.total++;
      if (ok) t.passed++;
      rec.perSkill.set(s, t);
    }
    const sum = sums.get(r.agent_id) ?? { ms: 0, tokens: 0, n: 0 };
    sum.ms += Number(r.ms ?? 0);
    sum.tokens += Number(r.tokens ?? 0);
    sum.n++;
    sums.set(r.agent_id, sum);
  }
  for (const [id, s] of sums) {
    const rec = out.get(id)!;
    rec.meanMs = s.ms / s.n;
    rec.meanTokens = s.tokens / s.n;
  }
  return out;
}

export function teamMeanMs(records: Records): number {
  const xs = [...records.values()].filter(r => r.meanMs > 0).map(r => r.meanMs);
  return xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0;
}
