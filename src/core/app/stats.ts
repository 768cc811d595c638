/**
 * The team's figures in one typed query: per agent, per provider and model, over time. The dashboard
 * renders it and the API will serve it (`/v1/stats`), so both always agree. Aggregates are computed in
 * SQL over the runs, tasks and reviews tables (a few grouped scans, no per-row JavaScript), so a board of
 * 10,000 tasks and 50,000 updates answers in milliseconds; live state (providers online, loaded models,
 * the step a run is at) comes from the monitor and the run manager of this window.
 */
import type { Agent, AgentStatus, Provider } from '../model/schemas';
import type { Clock } from '../ports';
import type { ReadApi } from '../store/types';
import type { ProviderMonitor } from '../scheduling/providerMonitor';
import type { RunManager } from './runManager';
import type { Disposable } from '../events';

export interface StatsOptions {
  /** Hours covered by the per-hour counts and the run timeline (default 12, at most 168). */
  hours?: number;
  /** The time the figures are taken at (default: the clock). */
  now?: number;
}

export interface SkillStats {
  skill: string;
  /** Finished runs (completed, failed or ended by a provider error) on tasks needing this skill. */
  runs: number;
  completed: number;
  /** completed / runs, or null without runs. */
  successRate: number | null;
  /** Review verdicts on this agent's work on tasks needing this skill. */
  reviews: number;
  approved: number;
  /** approved / reviews, or null without reviews. */
  reviewPassRate: number | null;
}

export interface AgentStats {
  id: string;
  name: string;
  status: AgentStatus;
  statusReason: string | null;
  enabled: boolean;
  providerId: string;
  model: string;
  /** The task it is running now, with the loop's step (live in this window; the run row's otherwise). */
  current: { taskId: string; title: string; runId: string; step: number; startedAt: number } | null;
  runs: number;
  completed: number;
  failed: number;
  successRate: number | null;
  reviews: number;
  reviewPassRate: number | null;
  /** Mean wall time of its finished runs, ms. */
  meanDurationMs: number | null;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  modelMs: number;
  bySkill: SkillStats[];
}

export interface ModelStats {
  model: string;
  slots: number;
  slotsInUse: number;
  /** Pending tasks assigned to agents on this provider and model. */
  queued: number;
  loaded: boolean;
  runs: number;
  /** Runs ended by a provider error (`outcome = 'error'`), by error kind. */
  errors: number;
  errorKinds: Record<string, number>;
  promptTokens: number;
  completionTokens: number;
  cachedTokens: number;
  modelMs: number;
  /** Prompt evaluation and generation time, where the server reported them apart (runs since schema 7). */
  promptMs: number;
  evalMs: number;
  /** Generated tokens per second of generation time (Ollama `eval_count / eval_duration`), over runs that report it. */
  generationTokensPerSec: number | null;
  /** Prompt tokens evaluated (not read from the cache) per second of prompt-evaluation time, over runs that report it. */
  promptTokensPerSec: number | null;
  /** All tokens the model processed per second of model time (prompt and generation together; every run). */
  tokensPerSec: number | null;
  /** Share of prompt tokens the server read from its prompt cache (`prompt_eval_cached_count`), 0..1. */
  cacheShare: number | null;
}

export interface ProviderStats {
  id: string;
  name: string;
  kind: Provider['kind'];
  baseUrl: string;
  /** Unknown until the monitor has checked it. */
  online: boolean | null;
  offlineReason: string | null;
  loaded: string[];
  models: ModelStats[];
}

export interface HourStats {
  /** Start of the hour, ms since the epoch. */
  hour: number;
  completed: number;
  failed: number;
}

export interface TimelineRun {
  runId: string;
  agentId: string;
  taskId: string;
  startedAt: number;
  /** null while it runs. */
  endedAt: number | null;
  outcome: string;
}

export interface Stats {
  generatedAt: number;
  hours: number;
  totals: {
    tasks: number;
    running: number;
    queued: number;
    inReview: number;
    blocked: number;
    completed: number;
    failed: number;
    completedToday: number;
    failedToday: number;
    promptTokens: number;
    completionTokens: number;
    cachedTokens: number;
    modelMs: number;
  };
  agents: AgentStats[];
  providers: ProviderStats[];
  hourly: HourStats[];
  /** Review rounds per reviewed task: how many tasks took 1, 2, 3… rounds. */
  reviewRounds: { tasks: number; mean: number | null; histogram: Array<{ rounds: number; tasks: number }> };
  timeline: TimelineRun[];
}

const HOUR = 3_600_000;
/** The most runs the timeline holds (newest first are kept). */
const TIMELINE_MAX = 2000;

const ratio = (a: number, b: number): number | null => (b > 0 ? a / b : null);
const startOfDay = (now: number): number => {
  const d = new Date(now);
  d.setHours(0, 0, 0, 0);
  return d.getTime();
};

function parseSkills(json: string | null): string[] {
  try {
    const v: unknown = JSON.parse(json ?? '[]');
    return Array.isArray(v) ? v.filter((s): s is string => typeof s === 'string') : [];
  } catch {
    return [];
  }
}

export interface StatsDeps {
  db: ReadApi;
  clock: Clock;
  agents: () => Agent[];
  providers: () => Provider[];
  monitor?: Pick<ProviderMonitor, 'views'>;
  runs?: Pick<RunManager, 'onRunEvent'>;
}

/** `core.stats`: the figures every front end shows. */
export class StatsService implements Disposable {
  /** The loop step each run of this window is at. */
  private readonly steps = new Map<string, number>();
  private readonly sub: Disposable | undefined;

  constructor(private readonly d: StatsDeps) {
    this.sub = d.runs?.onRunEvent(e => {
      const ev = e.event;
      if ('step' in ev && typeof ev.step === 'number') this.steps.set(e.runId, ev.step);
    });
  }

  /** The few counts a status bar shows, cheaply (two grouped reads). */
  counts(now = this.d.clock.now()): { running: number; queued: number; inReview: number; failedToday: number } {
    const by = new Map(this.d.db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status').map(r => [r.status, Number(r.n)]));
    const failedToday = Number(this.d.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM tasks WHERE status = 'failed' AND updated_at >= ?`, [startOfDay(now)])?.n ?? 0);
    return { running: by.get('in_progress') ?? 0, queued: by.get('pending') ?? 0, inReview: by.get('in_review') ?? 0, failedToday };
  }

  stats(opts: StatsOptions = {}): Stats {
    const db = this.d.db;
    const now = opts.now ?? this.d.clock.now();
    const hours = Math.max(1, Math.min(168, Math.round(opts.hours ?? 12)));
    const since = Math.floor(now / HOUR) * HOUR - (hours - 1) * HOUR;
    const today = startOfDay(now);

    // Tasks by status; today's completions and failures.
    const byStatus = new Map(db.all<{ status: string; n: number }>('SELECT status, COUNT(*) AS n FROM tasks GROUP BY status').map(r => [r.status, Number(r.n)]));
    const count = (s: string) => byStatus.get(s) ?? 0;
    const today2 = db.get<{ c: number; f: number }>(
      `SELECT SUM(CASE WHEN status = 'completed' AND completed_at >= ? THEN 1 ELSE 0 END) AS c,
              SUM(CASE WHEN status = 'failed' AND updated_at >= ? THEN 1 ELSE 0 END) AS f FROM tasks`,
      [today, today],
    );

    // Per agent: finished runs, tokens, time (grouped along the runs_agent_outcome index, no join) ...
    type RunAgg = { agent_id: string; outcome: string; n: number; dur: number; pt: number; ct: number; cached: number; ms: number };
    const runAgg = db.all<RunAgg>(
      `SELECT agent_id, outcome, COUNT(*) AS n, SUM(COALESCE(ended_at, started_at) - started_at) AS dur,
              SUM(prompt_tokens) AS pt, SUM(completion_tokens) AS ct, SUM(cached_tokens) AS cached, SUM(model_ms) AS ms
         FROM runs WHERE outcome != 'running' GROUP BY agent_id, outcome`,
    );
    // ... and per skill set of the task, counts only.
    type SkillAgg = { agent_id: string; skills: string; outcome: string; n: number };
    const skillAgg = db.all<SkillAgg>(
      `SELECT r.agent_id, t.required_skills AS skills, r.outcome, COUNT(*) AS n
         FROM runs r JOIN tasks t ON t.id = r.task_id
        WHERE r.outcome IN ('completed', 'failed', 'error')
        GROUP BY r.agent_id, t.required_skills, r.outcome`,
    );
    type ReviewAgg = { author_id: string; skills: string; verdict: string; n: number };
    const reviewAgg = db.all<ReviewAgg>(
      `SELECT v.author_id, t.required_skills AS skills, v.verdict, COUNT(*) AS n
         FROM reviews v JOIN tasks t ON t.id = v.task_id
        WHERE v.author_id IS NOT NULL
        GROUP BY v.author_id, t.required_skills, v.verdict`,
    );
    const running = db.all<{ id: string; agent_id: string; task_id: string; title: string; steps: number; started_at: number }>(
      `SELECT r.id, r.agent_id, r.task_id, t.title, r.steps, r.started_at FROM runs r JOIN tasks t ON t.id = r.task_id WHERE r.outcome = 'running'`,
    );
    for (const id of [...this.steps.keys()]) if (!running.some(r => r.id === id)) this.steps.delete(id);

    const agents: AgentStats[] = this.d.agents().map(a => {
      const mine = runAgg.filter(r => r.agent_id === a.id);
      const skills = new Map<string, SkillStats>();
      const skill = (s: string) => {
        let v = skills.get(s);
        if (!v) skills.set(s, (v = { skill: s, runs: 0, completed: 0, successRate: null, reviews: 0, approved: 0, reviewPassRate: null }));
        return v;
      };
      let runs = 0, completed = 0, failed = 0, dur = 0, pt = 0, ct = 0, cached = 0, ms = 0;
      for (const r of mine) {
        const n = Number(r.n);
        pt += Number(r.pt); ct += Number(r.ct); cached += Number(r.cached); ms += Number(r.ms);
        // Cancelled and interrupted runs say nothing about the agent: they count for tokens, not for success.
        if (!['completed', 'failed', 'error'].includes(r.outcome)) continue;
        runs += n;
        dur += Number(r.dur);
        if (r.outcome === 'completed') completed += n;
        else failed += n;
      }
      for (const r of skillAgg.filter(r => r.agent_id === a.id)) {
        for (const s of parseSkills(r.skills)) {
          const v = skill(s);
          v.runs += Number(r.n);
          if (r.outcome === 'completed') v.completed += Number(r.n);
        }
      }
      let reviews = 0, approved = 0;
      for (const r of reviewAgg.filter(r => r.author_id === a.id)) {
        const n = Number(r.n);
        reviews += n;
        if (r.verdict === 'approve') approved += n;
        for (const s of parseSkills(r.skills)) {
          const v = skill(s);
          v.reviews += n;
          if (r.verdict === 'approve') v.approved += n;
        }
      }
      for (const v of skills.values()) {
        v.successRate = ratio(v.completed, v.runs);
        v.reviewPassRate = ratio(v.approved, v.reviews);
      }
      const cur = running.find(r => r.agent_id === a.id);
      return {
        id: a.id, name: a.name, status: a.status, statusReason: a.statusReason, enabled: a.enabled, providerId: a.providerId, model: a.model,
        current: cur ? { taskId: cur.task_id, title: cur.title, runId: cur.id, step: this.steps.get(cur.id) ?? Number(cur.steps), startedAt: Number(cur.started_at) } : null,
        runs, completed, failed, successRate: ratio(completed, runs), reviews, reviewPassRate: ratio(approved, reviews),
        meanDurationMs: runs ? dur / runs : null,
        promptTokens: pt, completionTokens: ct, cachedTokens: cached, modelMs: ms,
        bySkill: [...skills.values()].sort((x, y) => x.skill.localeCompare(y.skill)),
      };
    });

    // Per provider and model.
    type ModelAgg = {
      provider_id: string; model: string; n: number; errors: number; running: number; pt: number; ct: number; cached: number; ms: number;
      /** Over the runs whose server reported prompt and generation time apart. */
      split_pt: number; split_ct: number; split_cached: number; pms: number; ems: number;
    };
    const modelAgg = db.all<ModelAgg>(
      `SELECT provider_id, model, COUNT(*) AS n, SUM(CASE WHEN outcome = 'error' THEN 1 ELSE 0 END) AS errors,
              SUM(CASE WHEN outcome = 'running' THEN 1 ELSE 0 END) AS running,
              SUM(prompt_tokens) AS pt, SUM(completion_tokens) AS ct, SUM(cached_tokens) AS cached, SUM(model_ms) AS ms,
              SUM(CASE WHEN eval_ms > 0 THEN prompt_tokens ELSE 0 END) AS split_pt, SUM(CASE WHEN eval_ms > 0 THEN completion_tokens ELSE 0 END) AS split_ct,
              SUM(CASE WHEN eval_ms > 0 THEN cached_tokens ELSE 0 END) AS split_cached, SUM(prompt_ms) AS pms, SUM(eval_ms) AS ems
         FROM runs WHERE provider_id IS NOT NULL AND model IS NOT NULL GROUP BY provider_id, model`,
    );
    const errorKinds = db.all<{ provider_id: string; model: string; kind: string; n: number }>(
      `SELECT provider_id, model, COALESCE(error_kind, 'other') AS kind, COUNT(*) AS n FROM runs
        WHERE outcome = 'error' AND provider_id IS NOT NULL GROUP BY provider_id, model, kind`,
    );
    const queued = db.all<{ provider_id: string; model: string; n: number }>(
      `SELECT a.provider_id, a.model, COUNT(*) AS n FROM tasks t JOIN agents a ON a.id = t.assignee_id
        WHERE t.status = 'pending' GROUP BY a.provider_id, a.model`,
    );
    const views = this.d.monitor?.views();
    const providers: ProviderStats[] = this.d.providers().map(p => {
      const view = views?.get(p.id);
      const loaded = [...(view?.loaded ?? [])].sort();
      const names = new Set<string>([
        ...modelAgg.filter(m => m.provider_id === p.id).map(m => m.model),
        ...this.d.agents().filter(a => a.providerId === p.id).map(a => a.model),
        ...loaded,
      ]);
      const models = [...names].sort().map((model): ModelStats => {
        const m = modelAgg.find(x => x.provider_id === p.id && x.model === model);
        const pt = Number(m?.pt ?? 0), ct = Number(m?.ct ?? 0), cached = Number(m?.cached ?? 0), ms = Number(m?.ms ?? 0);
        return {
          model, slots: p.maxConcurrency, slotsInUse: Number(m?.running ?? 0),
          queued: Number(queued.find(q => q.provider_id === p.id && q.model === model)?.n ?? 0),
          loaded: loaded.includes(model),
          runs: Number(m?.n ?? 0), errors: Number(m?.errors ?? 0),
          errorKinds: Object.fromEntries(errorKinds.filter(e => e.provider_id === p.id && e.model === model).map(e => [e.kind, Number(e.n)])),
          promptTokens: pt, completionTokens: ct, cachedTokens: cached, modelMs: ms,
          promptMs: Number(m?.pms ?? 0), evalMs: Number(m?.ems ?? 0),
          generationTokensPerSec: Number(m?.ems ?? 0) > 0 ? Number(m!.split_ct) / (Number(m!.ems) / 1000) : null,
          promptTokensPerSec: Number(m?.pms ?? 0) > 0 ? (Number(m!.split_pt) - Number(m!.split_cached)) / (Number(m!.pms) / 1000) : null,
          tokensPerSec: ms > 0 ? ((pt - cached) + ct) / (ms / 1000) : null,
          cacheShare: ratio(cached, pt),
        };
      });
      return {
        id: p.id, name: p.name, kind: p.kind, baseUrl: p.baseUrl,
        online: view?.online ?? null, offlineReason: view?.offlineReason ?? null, loaded, models,
      };
    });

    // Over time.
    const hourly: HourStats[] = Array.from({ length: hours }, (_, i) => ({ hour: since + i * HOUR, completed: 0, failed: 0 }));
    const perHour = db.all<{ h: number; status: string; n: number }>(
      `SELECT (CASE WHEN status = 'completed' THEN completed_at ELSE updated_at END - ?) / ${HOUR} AS h, status, COUNT(*) AS n FROM tasks
        WHERE (status = 'completed' AND completed_at >= ?) OR (status = 'failed' AND updated_at >= ?) GROUP BY h, status`,
      [since, since, since],
    );
    for (const r of perHour) {
      const slot = hourly[Math.floor(Number(r.h))];
      if (!slot) continue;
      if (r.status === 'completed') slot.completed += Number(r.n);
      else slot.failed += Number(r.n);
    }
    const rounds = db.all<{ rounds: number; n: number }>(
      `SELECT review_round AS rounds, COUNT(*) AS n FROM tasks WHERE review_round > 0 AND review_of IS NULL GROUP BY review_round ORDER BY review_round`,
    );
    const reviewed = rounds.reduce((s, r) => s + Number(r.n), 0);
    const timeline = db
      .all<{ id: string; agent_id: string; task_id: string; started_at: number; ended_at: number | null; outcome: string }>(
        `SELECT id, agent_id, task_id, started_at, ended_at, outcome FROM runs
          WHERE started_at >= ? AND (ended_at IS NULL OR ended_at >= ?) ORDER BY started_at DESC LIMIT ${TIMELINE_MAX}`,
        // A run lasts at most its time budget: one that ended in the window started less than a day before it.
        [since - 86_400_000, since],
      )
      .map(r => ({ runId: r.id, agentId: r.agent_id, taskId: r.task_id, startedAt: Number(r.started_at), endedAt: r.ended_at === null ? null : Number(r.ended_at), outcome: r.outcome }))
      .reverse();

    const sum = (k: 'promptTokens' | 'completionTokens' | 'cachedTokens' | 'modelMs') => agents.reduce((s, a) => s + a[k], 0);
    return {
      generatedAt: now,
      hours,
      totals: {
        tasks: [...byStatus.values()].reduce((a, b) => a + b, 0),
        running: count('in_progress'),
        queued: count('pending'),
        inReview: count('in_review'),
        blocked: count('blocked'),
        completed: count('completed'),
        failed: count('failed'),
        completedToday: Number(today2?.c ?? 0),
        failedToday: Number(today2?.f ?? 0),
        promptTokens: sum('promptTokens'),
        completionTokens: sum('completionTokens'),
        cachedTokens: sum('cachedTokens'),
        modelMs: sum('modelMs'),
      },
      agents,
      providers,
      hourly,
      reviewRounds: {
        tasks: reviewed,
        mean: reviewed ? rounds.reduce((s, r) => s + Number(r.rounds) * Number(r.n), 0) / reviewed : null,
        histogram: rounds.map(r => ({ rounds: Number(r.rounds), tasks: Number(r.n) })),
      },
      timeline,
    };
  }

  dispose(): void {
    this.sub?.dispose();
    this.steps.clear();
  }
}

const csvCell = (v: unknown): string => {
  const s = v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isInteger(v) ? String(v) : v.toFixed(4)) : String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
};

/** The figures as CSV: one section per table (agents, agent skills, models, hours), separated by a blank line. */
export function statsToCsv(s: Stats): string {
  const table = (head: string[], rows: unknown[][]) => [head, ...rows].map(r => r.map(csvCell).join(',')).join('\n');
  return [
    table(
      ['agent', 'status', 'current_task', 'step', 'runs', 'completed', 'failed', 'success_rate', 'reviews', 'review_pass_rate', 'mean_duration_ms', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'model_ms'],
      s.agents.map(a => [a.name, a.status, a.current?.title ?? '', a.current?.step ?? '', a.runs, a.completed, a.failed, a.successRate, a.reviews, a.reviewPassRate, a.meanDurationMs, a.promptTokens, a.completionTokens, a.cachedTokens, a.modelMs]),
    ),
    table(
      ['agent', 'skill', 'runs', 'completed', 'success_rate', 'reviews', 'approved', 'review_pass_rate'],
      s.agents.flatMap(a => a.bySkill.map(k => [a.name, k.skill, k.runs, k.completed, k.successRate, k.reviews, k.approved, k.reviewPassRate])),
    ),
    table(
      ['provider', 'online', 'model', 'loaded', 'slots', 'slots_in_use', 'queued', 'runs', 'errors', 'prompt_tokens', 'completion_tokens', 'cached_tokens', 'cache_share', 'model_ms', 'prompt_ms', 'eval_ms', 'generation_tokens_per_s', 'prompt_tokens_per_s', 'tokens_per_s'],
      s.providers.flatMap(p => p.models.map(m => [p.name, p.online, m.model, m.loaded, m.slots, m.slotsInUse, m.queued, m.runs, m.errors, m.promptTokens, m.completionTokens, m.cachedTokens, m.cacheShare, m.modelMs, m.promptMs, m.evalMs, m.generationTokensPerSec, m.promptTokensPerSec, m.tokensPerSec])),
    ),
    table(['hour', 'completed', 'failed'], s.hourly.map(h => [new Date(h.hour).toISOString(), h.completed, h.failed])),
  ].join('\n\n') + '\n';
}
