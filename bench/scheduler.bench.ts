/**
 * Scheduling figures (issue "The team runs itself"):
 *  - scheduler_decision_ms: one decision with 1,000 pending tasks and 50 agents (target ≤ 5);
 *  - scheduler_makespan_ratio: 16 equal tasks, 4 agents, one provider with 4 slots, a fixed model time per
 *    task: makespan / (total model time / 4) (target ≤ 1.10);
 *  - kv_prompt_eval_ratio: 2 agents, 2 tasks each, one model with 1 slot, 10 turns per task, against the fake's
 *    per-slot prompt cache: prompt tokens evaluated / the minimum (each conversation's tokens once) (target ≤ 1.2);
 *    kv_prompt_eval_ratio_naive: the same with both agents taking turns on the slot, for comparison;
 *  - two_provider_speedup: 8 equal tasks on one model served by two providers with 1 slot each, against one (target ≥ 1.9).
 * Everything runs the real core (store, scheduler, runs) against the fake Ollama over real HTTP.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCore, type Core, type CoreSettings } from '../src/core';
import type { Agent, Provider, Task } from '../src/core/model/schemas';
import { plan, type ProviderView } from '../src/core/scheduling/plan';
import type { Records } from '../src/core/scheduling/score';
import { startFakeOllama, type FakeOllama } from '../test/fake-ollama/server';
import { promptTokens } from '../test/fake-ollama/promptCache';
import type { ChatRequestView, ScriptedReply } from '../test/fake-ollama/script';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');
const MODEL = 'gemma3:1b';
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const complete: ScriptedReply = { content: '<complete>\n<result>done</result>\n</complete>' };

async function core(settings: Partial<CoreSettings>): Promise<{ core: Core; cleanup(): Promise<void> }> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-sched-bench-'));
  fs.mkdirSync(path.join(root, 'ws'));
  const c = await openCore({
    storageDir: path.join(root, 'storage'),
    wasmPath: WASM,
    workspaceFolders: { folders: () => [path.join(root, 'ws')] },
    settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20, ...settings }),
    watch: false,
    tickMs: 100,
  });
  return { core: c, cleanup: async () => (await c.close(), fs.rmSync(root, { recursive: true, force: true })) };
}

async function until(pred: () => boolean, ms = 120_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise(r => setTimeout(r, 5));
  }
}

function decisionBench(): number {
  const now = Date.now();
  const skills = ['typescript', 'python', 'go', 'rust', 'testing', 'docs', 'review', 'sql'];
  const providers = new Map<string, ProviderView>();
  for (let p = 0; p < 3; p++) {
    const provider: Provider = { id: `p${p}`, kind: 'ollama', name: `Ollama ${p}`, baseUrl: `http://127.0.0.1:${11434 + p}`, maxConcurrency: 2, createdAt: 0 };
    providers.set(provider.id, { provider, online: true, models: new Set(['m0', 'm1', 'm2']), loaded: new Set([`m${p}`]) });
  }
  const agents: Agent[] = Array.from({ length: 50 }, (_, i) => ({
    id: `a${i}`, name: `agent-${i}`, role: 'developer', skills: [skills[i % 8], skills[(i * 3) % 8]], providerId: `p${i % 3}`, model: `m${i % 3}`,
    settings: { anyProvider: i % 2 === 0 }, enabled: true, status: i % 5 === 0 ? 'busy' : 'ready', statusReason: null, workspace: `agents/${i}`, createdAt: 0, updatedAt: 0,
  }));
  const tasks: Task[] = Array.from({ length: 1000 }, (_, i) => ({
    id: `t${i}`, title: `task ${i}`, description: '', requiredSkills: [skills[i % 8], skills[(i + 2) % 8]].slice(0, 1 + (i % 2)), priority: i % 4, status: 'pending',
    assigneeId: i % 4 === 0 ? `a${i % 50}` : null, parentId: null, reviewOf: null, dependsOn: [], attachments: [], testCommand: null, result: null, failureReason: null,
    attempts: 0, reviewRequired: null, reviewRound: 0, assignReason: null, leaseOwner: null, leaseExpiresAt: null, createdAt: now - i, updatedAt: now, startedAt: null, completedAt: null,
  }));
  const records: Records = new Map(agents.map((a, i) => [a.id, {
    perSkill: new Map(a.skills.map(s => [s, { passed: i % 7, total: 7 }])), overall: { passed: i % 9, total: 9 }, meanMs: 1000 + i * 10, meanTokens: 5000, failedTasks: new Map(),
  }]));
  const used = new Map<string, number>([['p0\u0000m0', 1]]);
  const input = {
    tasks, requested: new Set<string>(), autoRun: true, agents, providers, slotsUsed: (p: string, m: string) => used.get(`${p}\u0000${m}`) ?? 0,
    score: { records, teamMeanMs: 1200, queueOf: () => 0 },
  };
  for (let i = 0; i < 20; i++) plan(input); // warm up
  const times: number[] = [];
  let starts = 0;
  for (let i = 0; i < 200; i++) {
    const t = performance.now();
    starts = plan(input).starts.length;
    times.push(performance.now() - t);
  }
  const ms = median(times);
  console.log(`one decision, 1,000 pending tasks and 50 agents: ${ms.toFixed(3)} ms median of 200 (${starts} starts, p99 ${[...times].sort((a, b) => a - b)[197].toFixed(3)} ms)`);
  return ms;
}

async function main(): Promise<void> {
  const decision = decisionBench();

  // A fixed model time per task: a short reply of about 100 tokens at 200 tokens/s (half a second, what a
  // 1B model on a laptop takes for it), in real time.
  const timed = { timeScale: 1, loadMs: 0, tokensPerSec: 200, promptTokensPerSec: 1e9 };
  const answer = { ...complete, content: `${'I have done it and will finish now. '.repeat(10)}\n${complete.content}` };

  const fake4 = await startFakeOllama({ ...timed, numParallel: 4, defaultReply: answer });
  const makespans: number[] = [];
  for (let i = 0; i < 3; i++) {
    const r = await runWithAutoRun([fake4], { agents: 4, n: 16, slots: 4, anyProvider: false });
    makespans.push(r.makespan / (r.modelMs / 4));
    console.log(`  16 tasks, 4 agents, 4 slots: makespan ${r.makespan.toFixed(0)} ms, model time ${r.modelMs.toFixed(0)} ms, ratio ${(r.makespan / (r.modelMs / 4)).toFixed(3)}`);
  }
  await fake4.close();
  const makespanRatio = median(makespans);

  const kv = await kvBench(false);
  const kvNaive = await kvBench(true);

  const one = await startFakeOllama({ ...timed, numParallel: 1, defaultReply: answer });
  const two = await startFakeOllama({ ...timed, numParallel: 1, defaultReply: answer });
  const single = await runWithAutoRun([one], { agents: 4, n: 8, slots: 1, anyProvider: true });
  const both = await runWithAutoRun([one, two], { agents: 4, n: 8, slots: 1, anyProvider: true });
  await one.close();
  await two.close();
  const speedup = single.makespan / both.makespan;
  console.log(`  8 tasks on one provider: ${single.makespan.toFixed(0)} ms; on two providers serving the same model: ${both.makespan.toFixed(0)} ms`);

  console.log(`[bench] scheduler_decision_ms=${decision.toFixed(3)}`);
  console.log(`[bench] scheduler_makespan_ratio=${makespanRatio.toFixed(3)}`);
  console.log(`[bench] kv_prompt_eval_ratio=${kv.toFixed(3)}`);
  console.log(`[bench] kv_prompt_eval_ratio_naive=${kvNaive.toFixed(3)}`);
  console.log(`[bench] two_provider_speedup=${speedup.toFixed(3)}`);
}

/** As runQueue, with auto-run switched on after the board is set up, as a user would toggle it. */
async function runWithAutoRun(fakes: FakeOllama[], opts: { agents: number; n: number; slots: number; anyProvider: boolean }) {
  const s = { autoRun: false, leaseMs: 30_000, maxAttempts: 3 };
  const { core: c, cleanup } = await core({ scheduler: s });
  let sub: { dispose(): void } | undefined;
  try {
    c.providers.edit('ollama-local', { baseUrl: fakes[0].url, maxConcurrency: opts.slots });
    for (let i = 1; i < fakes.length; i++) c.providers.create({ kind: 'ollama', name: `Ollama ${i + 1}`, baseUrl: fakes[i].url, maxConcurrency: opts.slots });
    for (let i = 0; i < opts.agents; i++) await c.agents.create({ name: `agent-${i}`, role: 'developer', model: MODEL, settings: { anyProvider: opts.anyProvider } });
    for (let i = 0; i < opts.n; i++) c.tasks.create({ title: `task ${i}` });
    await c.monitor.refreshDue(); // what a running window already knows: its servers and their models
    // Model time as the client waited for it (request sent to reply parsed), summed over the runs.
    let waited = 0;
    const asked = new Map<string, number>();
    sub = c.runs.onRunEvent(e => {
      if (e.event.type === 'model') asked.set(e.runId, performance.now());
      else if (e.event.type === 'reply') waited += performance.now() - (asked.get(e.runId) ?? performance.now());
    });
    const t0 = performance.now();
    s.autoRun = true;
    c.scheduler.schedule();
    await until(() => c.tasks.counts().completed === opts.n);
    const makespan = performance.now() - t0;
    return { makespan, modelMs: waited };
  } finally {
    sub?.dispose();
    await cleanup();
  }
}

/**
 * Two agents, two tasks each, one model with one slot, 10 turns per task. With the scheduler, one agent at a
 * time holds the slot, so each turn evaluates only what is new. Naive: both run at once (the provider is told
 * it has 2 slots while the server has 1), so their turns alternate on the slot and evict each other's cache.
 */
async function kvBench(naive: boolean): Promise<number> {
  const reply = (req: ChatRequestView): ScriptedReply => {
    const turns = req.messages.filter(m => m.role === 'assistant').length;
    return turns < 9 ? { content: `<report_progress>\n<message>step ${turns + 1}: working on it</message>\n</report_progress>` } : complete;
  };
  const fake = await startFakeOllama({ numParallel: 1, defaultReply: reply });
  const s = { autoRun: false, leaseMs: 30_000, maxAttempts: 3 };
  const { core: c, cleanup } = await core({ scheduler: s });
  try {
    c.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: naive ? 2 : 1 });
    for (const name of ['Ada', 'Bo']) {
      const a = await c.agents.create({ name, role: 'developer', model: MODEL });
      for (let i = 0; i < 2; i++) c.tasks.create({ title: `${name}'s task ${i}`, description: `Task ${i} of ${name}: report progress nine times, then complete.`, assigneeId: a.id });
    }
    s.autoRun = true;
    c.scheduler.schedule();
    await until(() => c.tasks.counts().completed === 4);
    // The minimum: every token of each conversation evaluated once (its last prompt holds all earlier ones).
    const last = new Map<string, ChatRequestView['messages']>();
    for (const r of fake.requestsTo('/api/chat')) {
      const msgs = r.body.messages as ChatRequestView['messages'];
      last.set(msgs[1]?.content ?? '', msgs);
    }
    // (Below 1 is possible: conversations of one agent share their system prompt, which the slot keeps.)
    const minimum = [...last.values()].reduce((a, m) => a + promptTokens(m).length, 0);
    const evaluated = fake.counters.promptTokensEvaluatedByModel[MODEL];
    const ratio = evaluated / minimum;
    console.log(`  ${naive ? 'naive (agents alternate on the slot)' : 'scheduler (one agent per slot)'}: ${evaluated} prompt tokens evaluated, minimum ${minimum}, ratio ${ratio.toFixed(3)}, ${last.size} conversations`);
    return ratio;
  } finally {
    await cleanup();
    await fake.close();
  }
}

main().then(
  () => process.exit(0),
  e => {
    console.error(e);
    process.exit(1);
  },
);
