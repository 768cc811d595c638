import * as assert from 'node:assert/strict';
import { statsToCsv } from '../../../src/core/app/stats';
import type { Core } from '../../../src/core';
import { tempCore, type TempCore } from '../core/helpers';
import { startFakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';

interface RunSeed {
  agentId: string;
  taskId: string;
  outcome: string;
  startedAt: number;
  endedAt?: number | null;
  prompt?: number;
  completion?: number;
  cached?: number;
  modelMs?: number;
  promptMs?: number;
  evalMs?: number;
  errorKind?: string;
  model: string;
}

let n = 0;
function addRun(core: Core, r: RunSeed): string {
  const id = `run-${++n}`;
  core.store.mutate(tx =>
    tx.run(
      `INSERT INTO runs (id, task_id, agent_id, started_at, ended_at, outcome, prompt_tokens, completion_tokens, cached_tokens, model_ms, prompt_ms, eval_ms, provider_id, model, error_kind)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ollama-local', ?, ?)`,
      [id, r.taskId, r.agentId, r.startedAt, r.endedAt === undefined ? r.startedAt + 1000 : r.endedAt, r.outcome, r.prompt ?? 0, r.completion ?? 0, r.cached ?? 0, r.modelMs ?? 0, r.promptMs ?? 0, r.evalMs ?? 0, r.model, r.errorKind ?? null],
    ),
  );
  return id;
}

describe('stats: the figures of the dashboard and /v1/stats', () => {
  let t: TempCore;
  const HOUR = 3_600_000;
  const now = Date.UTC(2026, 5, 1, 12, 30);

  beforeEach(async () => {
    t = await tempCore({}, { schedule: false });
  });
  afterEach(() => t.cleanup());

  it('is empty but well-formed on a new board', () => {
    const s = t.core.stats.stats({ now, hours: 6 });
    assert.equal(s.totals.tasks, 0);
    assert.equal(s.agents.length, 0);
    assert.equal(s.hourly.length, 6);
    assert.equal(s.providers[0].id, 'ollama-local');
    assert.equal(s.reviewRounds.mean, null);
    assert.ok(statsToCsv(s).startsWith('agent,status'));
  });

  it('counts per agent, skill, model and hour, with the prompt-cache share', async () => {
    const ada = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript', 'python'], model: 'gemma3:1b' });
    const bob = await t.core.agents.create({ name: 'Bob', role: 'developer', skills: ['python'], model: 'qwen3:4b' });
    const js = t.core.tasks.create({ title: 'js work', requiredSkills: ['javascript'], assigneeId: ada.id });
    const py = t.core.tasks.create({ title: 'py work', requiredSkills: ['python'], assigneeId: ada.id });
    const queued = t.core.tasks.create({ title: 'waiting', requiredSkills: ['python'], assigneeId: bob.id });
    const start = now - 2 * HOUR;
    addRun(t.core, { agentId: ada.id, taskId: js.id, outcome: 'completed', startedAt: start, endedAt: start + 4000, prompt: 1000, completion: 200, cached: 600, modelMs: 2000, promptMs: 400, evalMs: 1600, model: 'gemma3:1b' });
    addRun(t.core, { agentId: ada.id, taskId: py.id, outcome: 'failed', startedAt: start, endedAt: start + 2000, prompt: 500, completion: 100, cached: 0, modelMs: 1000, model: 'gemma3:1b' });
    addRun(t.core, { agentId: ada.id, taskId: py.id, outcome: 'cancelled', startedAt: start, prompt: 100, model: 'gemma3:1b' });
    addRun(t.core, { agentId: bob.id, taskId: py.id, outcome: 'error', errorKind: 'connection', startedAt: start, model: 'qwen3:4b' });
    addRun(t.core, { agentId: bob.id, taskId: queued.id, outcome: 'running', startedAt: now - 1000, endedAt: null, model: 'qwen3:4b' });
    t.core.store.mutate(tx => {
      tx.run(`UPDATE tasks SET status = 'completed', completed_at = ?, review_round = 2 WHERE id = ?`, [now - HOUR, js.id]);
      tx.run(`UPDATE tasks SET status = 'failed', updated_at = ? WHERE id = ?`, [now - 10, py.id]);
      tx.run(
        `INSERT INTO reviews (id, task_id, round, author_id, reviewer_id, reviewer_name, verdict, created_at) VALUES
         ('v1', ?, 1, ?, ?, 'Bob', 'request_changes', ?), ('v2', ?, 2, ?, ?, 'Bob', 'approve', ?)`,
        [js.id, ada.id, bob.id, now - HOUR, js.id, ada.id, bob.id, now - HOUR],
      );
    });

    const s = t.core.stats.stats({ now, hours: 3 });
    assert.equal(s.totals.tasks, 3);
    assert.equal(s.totals.completed, 1);
    assert.equal(s.totals.failed, 1);
    assert.equal(s.totals.queued, 1);
    assert.equal(s.totals.failedToday, 1);
    assert.equal(s.totals.completedToday, 1);

    const a = s.agents.find(x => x.name === 'Ada')!;
    assert.equal(a.runs, 2, 'the cancelled run does not count for success');
    assert.equal(a.completed, 1);
    assert.equal(a.successRate, 0.5);
    assert.equal(a.meanDurationMs, 3000);
    assert.equal(a.promptTokens, 1600, 'but its tokens count');
    assert.equal(a.cachedTokens, 600);
    assert.equal(a.reviews, 2);
    assert.equal(a.reviewPassRate, 0.5);
    const jsSkill = a.bySkill.find(k => k.skill === 'javascript')!;
    assert.deepEqual([jsSkill.runs, jsSkill.successRate, jsSkill.reviews, jsSkill.reviewPassRate], [1, 1, 2, 0.5]);
    assert.deepEqual(a.bySkill.find(k => k.skill === 'python')!.successRate, 0);

    const b = s.agents.find(x => x.name === 'Bob')!;
    assert.equal(b.current?.taskId, queued.id);
    assert.equal(b.current?.title, 'waiting');

    const gemma = s.providers[0].models.find(m => m.model === 'gemma3:1b')!;
    assert.equal(gemma.runs, 3);
    assert.equal(gemma.cacheShare, 600 / 1600);
    // Generation and prompt rates only over the run that reported its time split: 200 tokens in 1.6 s, 400 uncached in 0.4 s.
    assert.equal(gemma.generationTokensPerSec, 200 / 1.6);
    assert.equal(gemma.promptTokensPerSec, 400 / 0.4);
    assert.equal(gemma.tokensPerSec, (1600 - 600 + 300) / 3);
    const qwen = s.providers[0].models.find(m => m.model === 'qwen3:4b')!;
    assert.equal(qwen.slotsInUse, 1);
    assert.equal(qwen.queued, 1);
    assert.equal(qwen.errors, 1);
    assert.deepEqual(qwen.errorKinds, { connection: 1 });
    assert.equal(qwen.cacheShare, null);

    // Hours: the last 3, the completion one hour ago, the failure in the current hour.
    assert.deepEqual(s.hourly.map(h => [h.completed, h.failed]), [[0, 0], [1, 0], [0, 1]]);
    assert.deepEqual(s.reviewRounds, { tasks: 1, mean: 2, histogram: [{ rounds: 2, tasks: 1 }] });
    assert.equal(s.timeline.length, 5);
    assert.equal(s.timeline.at(-1)!.endedAt, null);

    const csv = statsToCsv(s);
    assert.match(csv, /Ada,ready,,,2,1,1,0\.5000/);
    assert.match(csv, /Ollama \(this machine\),,gemma3:1b/);
  });

  it('a real run records its prompt and generation time apart, and the rates come out of them', async () => {
    const fake = await startFakeOllama();
    try {
      t.core.providers.edit('ollama-local', { baseUrl: fake.url });
      const ada = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript'], model: 'gemma3:1b' });
      const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id, reviewRequired: false });
      fake.script('gemma3:1b',
        asText({ tool: 'write_file', args: { path: 'src/add.js', content: 'module.exports = (a, b) => a + b;\n' } }),
        asText({ tool: 'complete', args: { result: 'wrote add' } }));
      const run = await t.core.app.runTask(task.id);
      assert.equal(run.outcome, 'completed', run.reason ?? '');
      const row = t.core.store.read.get<{ prompt_ms: number; eval_ms: number; model_ms: number }>('SELECT prompt_ms, eval_ms, model_ms FROM runs WHERE id = ?', [run.id])!;
      assert.ok(row.prompt_ms > 0 && row.eval_ms > 0, JSON.stringify(row));
      assert.ok(Math.abs(row.prompt_ms + row.eval_ms - row.model_ms) < 1, JSON.stringify(row));
      const m = t.core.stats.stats().providers[0].models.find(x => x.model === 'gemma3:1b')!;
      assert.ok(m.generationTokensPerSec! > 0 && m.promptTokensPerSec! > 0, JSON.stringify(m));
      assert.equal(t.core.stats.stats().agents[0].current, null);
    } finally {
      await fake.close();
    }
  });
});
