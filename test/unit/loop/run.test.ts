import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Agent, Task } from '../../../src/core/model/schemas';
import type { LoopEvent } from '../../../src/core/loop/agentLoop';
import type { Run } from '../../../src/core/model/schemas';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { addFunctionScenario, asText, asToolCall } from '../../fake-ollama/scenarios';
import { tempCore, type TempCore } from '../core/helpers';
import { sandboxSetup } from '../sandbox/setup';

describe('Runs: an agent works a task end to end against the fake Ollama', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  /** Runs a task through the application layer, as every front end does. */
  const run = (taskId: string, onEvent?: (e: LoopEvent) => void): Promise<Run> => t.core.app.runTask(taskId, { onEvent });
  beforeEach(async () => {
    // Commands run in the real OS sandbox, as in the extension (allowlisted ones without asking).
    t = await tempCore({ allowlist: ['npm test'] }, { approvals: { approve: async () => false, trusted: () => true, commands: () => sandboxSetup() } });
    fake = await startFakeOllama();
    t.core.providers.edit('ollama-local', { baseUrl: fake.url });
  });
  afterEach(async () => {
    t.cleanup();
    await fake.close();
  });

  async function setup(model: string, providerId = 'ollama-local'): Promise<{ agent: Agent; task: Task; folder: string }> {
    const agent = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript'], model, providerId });
    const task = t.core.tasks.create({ title: 'Write the add function', description: 'src/add.js exporting add(a, b), with tests', assigneeId: agent.id });
    return { agent, task, folder: path.join(t.workspaceDir, 'agents/ada') };
  }

  function assertFinished(task: Task, folder: string, agent: Agent): void {
    assert.equal(fs.readFileSync(path.join(folder, 'src/add.js'), 'utf8').includes('return a + b;'), true);
    assert.ok(fs.existsSync(path.join(folder, 'tests/add.test.js')));
    const done = t.core.tasks.get(task.id);
    assert.equal(done.status, 'completed', done.failureReason ?? '');
    assert.match(done.result ?? '', /fixed a sign bug/);
    const updates = t.core.activity.updates(task.id);
    const kinds = updates.map(u => u.kind);
    for (const k of ['plan', 'tool', 'test', 'result']) assert.ok(kinds.includes(k as never), `an update of kind ${k}: ${kinds.join(',')}`);
    const tests = updates.filter(u => u.kind === 'test').map(u => u.body);
    assert.match(tests[0], /^0 passed, 2 failed|^1 passed, 1 failed/, tests.join(' | '));
    assert.match(tests[tests.length - 1], /^2 passed, 0 failed/);
    const [r] = t.core.executor.list(task.id);
    assert.equal(r.outcome, 'completed');
    assert.equal(r.steps, 8);
    assert.equal(r.testsPassed, 2);
    assert.ok(r.promptTokens > 0 && r.completionTokens > 0, 'tokens recorded');
    assert.ok(r.transcript && fs.existsSync(r.transcript), 'transcript file written');
    assert.equal(r.providerId, done.assigneeId ? t.core.agents.get(done.assigneeId).providerId : null, 'the provider that served it');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  }

  it('text protocol on gemma3:1b (no tool calling): write, test, fail, fix, pass, complete', async () => {
    const { agent, task, folder } = await setup('gemma3:1b');
    fake.script('gemma3:1b', ...addFunctionScenario().map(asText));
    const events: string[] = [];
    const r = await run(task.id, e => events.push(e.type));
    assertFinished(task, folder, agent);
    assert.equal(r.outcome, 'completed');
    const chats = fake.requestsTo('/api/chat');
    assert.ok(chats.every(r => r.body.tools === undefined), 'no tools sent to a model without the capability');
    assert.ok(chats.every(r => r.body.options?.num_ctx === 8192), 'num_ctx on every request');
    assert.ok(chats.slice(1).every(r => r.body.messages.every((m: { role: string }) => m.role !== 'tool')), 'results go back as user messages');
    assert.match(chats[1].body.messages.at(-1).content, /<tool_result name="report_progress">/);
    assert.ok(events.includes('delta'), 'streamed');
  });

  it('native tool calls on a tool-capable model', async () => {
    const { agent, task, folder } = await setup('qwen2.5-coder:7b');
    fake.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asToolCall));
    await run(task.id);
    assertFinished(task, folder, agent);
    const chats = fake.requestsTo('/api/chat');
    assert.ok(chats.every(r => Array.isArray(r.body.tools) && r.body.tools.length >= 10), 'tools sent');
    assert.ok(chats.slice(1).some(r => r.body.messages.some((m: { role: string }) => m.role === 'tool')), 'tool results as tool messages');
  });

  it('OpenAI-compatible server (SSE, tool-call deltas)', async () => {
    const p = t.core.providers.create({ kind: 'openai', name: 'LM Studio', baseUrl: `${fake.url}/v1` });
    const { agent, task, folder } = await setup('qwen2.5-coder:7b', p.id);
    fake.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asText));
    await run(task.id);
    assertFinished(task, folder, agent);
    assert.ok(fake.requestsTo('/v1/chat/completions').length >= 8);
  });

  it('a missing model fails the task and puts the agent in error with what to do', async () => {
    const { agent, task } = await setup('nope:1b');
    const r = await run(task.id);
    assert.equal(r.outcome, 'error');
    assert.equal(r.errorKind, 'model_not_found', 'a stable kind, so no front end matches text');
    const a = t.core.agents.get(agent.id);
    assert.equal(a.status, 'error');
    assert.match(a.statusReason ?? '', /pull/i);
    assert.equal(t.core.tasks.get(task.id).status, 'failed');
  });

  it('cancel during a running command stops it within a second and ends the task cancelled', async () => {
    const { agent, task, folder } = await setup('gemma3:1b');
    fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ scripts: { test: 'node -e "setTimeout(()=>{},60000)"' } }));
    fake.script('gemma3:1b', asText({ tool: 'run_tests', args: {} }));
    let cancelledAt = 0;
    const r = await run(task.id, e => e.type === 'action' && setTimeout(() => ((cancelledAt = Date.now()), t.core.app.cancel(task.id)), 300));
    assert.ok(Date.now() - cancelledAt < 1500, `stopped ${Date.now() - cancelledAt} ms after cancel`);
    assert.equal(r.outcome, 'cancelled');
    assert.equal(t.core.tasks.get(task.id).status, 'cancelled');
    assert.equal(t.core.tasks.get(task.id).failureReason, 'Cancelled by user');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  });

  it('cancelling the task on the board (e.g. from another window) stops its run', async () => {
    const { agent, task } = await setup('gemma3:1b');
    fake.script('gemma3:1b', { content: 'thinking '.repeat(2000), pieceDelayMs: 10 });
    const r = await run(task.id, e => e.type === 'delta' && t.core.tasks.find(task.id)?.status === 'in_progress' && t.core.tasks.cancel(task.id));
    assert.equal(r.outcome, 'cancelled');
    assert.equal(t.core.tasks.get(task.id).status, 'cancelled');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
    await fake.waitFor(() => fake.counters.active === 0, 5000, 'the server to stop generating');
  });

  it('a run whose lease lapsed (its window died) goes back to the queue at the next start; a live lease is left alone', async () => {
    const { agent, task } = await setup('gemma3:1b');
    const other = t.core.tasks.create({ title: 'other', assigneeId: (await t.core.agents.create({ name: 'Bo', role: 'dev', model: 'gemma3:1b' })).id });
    // As a crashed window leaves it: task in progress with a lapsed lease, agent busy, run 'running'.
    t.core.store.mutate(tx => {
      tx.run(`UPDATE tasks SET status = 'in_progress', attempts = 1, lease_owner = 'gone:1:x', lease_expires_at = 1 WHERE id = ?`, [task.id]);
      tx.run(`UPDATE agents SET status = 'busy' WHERE id = ?`, [agent.id]);
      tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, outcome, provider_id, model) VALUES ('r1', ?, ?, 1, 'running', 'ollama-local', 'gemma3:1b')`, [task.id, agent.id]);
      tx.run(`UPDATE tasks SET status = 'in_progress', lease_owner = 'alive:1:y', lease_expires_at = ? WHERE id = ?`, [Date.now() + 600_000, other.id]);
      tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, outcome, provider_id, model) VALUES ('r2', ?, ?, 1, 'running', 'ollama-local', 'gemma3:1b')`, [other.id, other.assigneeId]);
    });
    const core = await t.reopen();
    assert.equal(core.tasks.get(task.id).status, 'pending');
    assert.equal(core.tasks.get(task.id).leaseOwner, null);
    assert.equal(core.agents.get(agent.id).status, 'ready');
    assert.deepEqual(Object.fromEntries(core.executor.list().map(r => [r.id, r.outcome])), { r1: 'interrupted', r2: 'running' }, "a live lease's run is left alone");
    assert.ok(core.activity.updates(task.id).some(u => /resumes where this one stopped/.test(u.body)));
  });

  it("a task's own test command runs before complete is accepted, without asking", async () => {
    const { agent } = await setup('gemma3:1b');
    const command = `node -e "console.log('# pass 3'); console.log('# fail 0')"`;
    const task = t.core.tasks.create({ title: 'check', assigneeId: agent.id, testCommand: command });
    fake.script('gemma3:1b', asText({ tool: 'complete', args: { result: 'checked' } }));
    t.settings.allowlist = [];
    const r = await run(task.id);
    assert.equal(r.outcome, 'completed', r.reason ?? '');
    assert.equal(r.testsPassed, 3);
    assert.ok(t.core.activity.updates(task.id).some(u => u.kind === 'test' && u.body.startsWith('3 passed, 0 failed')));
  });

  it('refuses to run an unassigned task, a disabled agent, or a task that is not pending', async () => {
    const { agent, task } = await setup('gemma3:1b');
    const lone = t.core.tasks.create({ title: 'nobody' });
    await assert.rejects(async () => run(lone.id), /Assign it to an agent first/);
    t.core.agents.setEnabled(agent.id, false);
    t.core.tasks.cancel(task.id);
    await assert.rejects(async () => run(task.id), /disabled/);
    assert.equal(t.core.tasks.get(task.id).status, 'cancelled', 'refused before anything changed');
    t.core.agents.setEnabled(agent.id, true);
    const done = t.core.tasks.create({ title: 'done', assigneeId: agent.id });
    t.core.store.mutate(tx => tx.run(`UPDATE tasks SET status = 'completed' WHERE id = ?`, [done.id]));
    await assert.rejects(async () => run(done.id), /completed; only a pending task can be run/);
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  });
});
