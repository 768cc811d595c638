import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { Agent, Task } from '../../../src/core/model/schemas';
import type { RunHost } from '../../../src/core/loop/runService';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { addFunctionScenario, asText, asToolCall } from '../../fake-ollama/scenarios';
import { tempCore, type TempCore } from '../core/helpers';
import { sandboxSetup } from '../sandbox/setup';

// Commands run in the real OS sandbox, as in the extension (allowlisted ones without asking).
const host: RunHost = { approve: async () => false, trusted: () => true, allowlist: () => ['npm test'], commands: () => sandboxSetup() };

describe('RunService: an agent works a task end to end against the fake Ollama', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  beforeEach(async () => {
    t = await tempCore();
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
    const [run] = t.core.runs.list(task.id);
    assert.equal(run.outcome, 'completed');
    assert.equal(run.steps, 8);
    assert.equal(run.testsPassed, 2);
    assert.ok(run.promptTokens > 0 && run.completionTokens > 0, 'tokens recorded');
    assert.ok(run.transcript && fs.existsSync(run.transcript), 'transcript file written');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  }

  it('text protocol on gemma3:1b (no tool calling): write, test, fail, fix, pass, complete', async () => {
    const { agent, task, folder } = await setup('gemma3:1b');
    fake.script('gemma3:1b', ...addFunctionScenario().map(asText));
    const events: string[] = [];
    const run = await t.core.runs.run(task.id, { signal: new AbortController().signal, host, onEvent: e => events.push(e.type) });
    assertFinished(task, folder, agent);
    assert.equal(run.outcome, 'completed');
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
    await t.core.runs.run(task.id, { signal: new AbortController().signal, host });
    assertFinished(task, folder, agent);
    const chats = fake.requestsTo('/api/chat');
    assert.ok(chats.every(r => Array.isArray(r.body.tools) && r.body.tools.length >= 10), 'tools sent');
    assert.ok(chats.slice(1).some(r => r.body.messages.some((m: { role: string }) => m.role === 'tool')), 'tool results as tool messages');
  });

  it('OpenAI-compatible server (SSE, tool-call deltas)', async () => {
    const p = t.core.providers.create({ kind: 'openai', name: 'LM Studio', baseUrl: `${fake.url}/v1` });
    const { agent, task, folder } = await setup('qwen2.5-coder:7b', p.id);
    fake.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asText));
    await t.core.runs.run(task.id, { signal: new AbortController().signal, host });
    assertFinished(task, folder, agent);
    assert.ok(fake.requestsTo('/v1/chat/completions').length >= 8);
  });

  it('a missing model fails the task and puts the agent in error with what to do', async () => {
    const { agent, task } = await setup('nope:1b');
    const run = await t.core.runs.run(task.id, { signal: new AbortController().signal, host });
    assert.equal(run.outcome, 'error');
    const a = t.core.agents.get(agent.id);
    assert.equal(a.status, 'error');
    assert.match(a.statusReason ?? '', /pull/i);
    assert.equal(t.core.tasks.get(task.id).status, 'failed');
  });

  it('cancel during a running command stops it within a second and fails the task "Cancelled by user"', async () => {
    const { agent, task, folder } = await setup('gemma3:1b');
    fs.writeFileSync(path.join(folder, 'package.json'), JSON.stringify({ scripts: { test: 'node -e "setTimeout(()=>{},60000)"' } }));
    fake.script('gemma3:1b', asText({ tool: 'run_tests', args: {} }));
    const ac = new AbortController();
    const started = Date.now();
    const p = t.core.runs.run(task.id, { signal: ac.signal, host, onEvent: e => e.type === 'action' && setTimeout(() => ac.abort(), 300) });
    const run = await p;
    assert.ok(Date.now() - started < 5000, `took ${Date.now() - started} ms`);
    assert.equal(run.outcome, 'cancelled');
    assert.equal(t.core.tasks.get(task.id).failureReason, 'Cancelled by user');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  });

  it('cancelling the task on the board (e.g. from another window) stops its run', async () => {
    const { agent, task } = await setup('gemma3:1b');
    fake.script('gemma3:1b', { content: 'thinking '.repeat(2000), pieceDelayMs: 10 });
    const p = t.core.runs.run(task.id, { signal: new AbortController().signal, host, onEvent: e => e.type === 'delta' && t.core.tasks.find(task.id)?.status === 'in_progress' && t.core.tasks.cancel(task.id) });
    const run = await p;
    assert.equal(run.outcome, 'cancelled');
    assert.equal(t.core.tasks.get(task.id).status, 'cancelled');
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
    await fake.waitFor(() => fake.counters.active === 0, 5000, 'the server to stop generating');
  });

  it('a run whose window died is recovered at the next start: task failed with the reason, agent ready', async () => {
    const { agent, task } = await setup('gemma3:1b');
    // A run as a crashed window leaves it: task in progress, agent busy, run 'running', owner a dead process.
    const dead = spawnSync(process.execPath, ['-e', '0']).pid;
    t.core.tasks.transition(task.id, 'in_progress');
    t.core.agents.setStatus(agent.id, 'busy');
    t.core.store.mutate(tx => tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, outcome, owner) VALUES ('r1', ?, ?, 1, 'running', ?)`, [task.id, agent.id, `${os.hostname()}:${dead}`]));
    t.core.store.mutate(tx => tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, outcome, owner) VALUES ('r2', ?, ?, 1, 'running', ?)`, [task.id, agent.id, `${os.hostname()}:${process.pid}`]));
    const core = await t.reopen();
    assert.equal(core.tasks.get(task.id).status, 'failed');
    assert.match(core.tasks.get(task.id).failureReason ?? '', /Interrupted/);
    assert.equal(core.agents.get(agent.id).status, 'ready');
    const runs = Object.fromEntries(core.runs.list(task.id).map(r => [r.id, r.outcome]));
    assert.deepEqual(runs, { r1: 'error', r2: 'running' }, 'a live owner\'s run is left alone');
  });

  it("a task's own test command runs before complete is accepted, without asking", async () => {
    const { agent } = await setup('gemma3:1b');
    const command = `node -e "console.log('# pass 3'); console.log('# fail 0')"`;
    const task = t.core.tasks.create({ title: 'check', assigneeId: agent.id, testCommand: command });
    fake.script('gemma3:1b', asText({ tool: 'complete', args: { result: 'checked' } }));
    const run = await t.core.runs.run(task.id, { signal: new AbortController().signal, host: { ...host, allowlist: () => [] } });
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    assert.equal(run.testsPassed, 3);
    assert.ok(t.core.activity.updates(task.id).some(u => u.kind === 'test' && u.body.startsWith('3 passed, 0 failed')));
  });

  it('refuses to run an unassigned task, a disabled agent, or a task that is not pending', async () => {
    const { agent, task } = await setup('gemma3:1b');
    const lone = t.core.tasks.create({ title: 'nobody' });
    await assert.rejects(t.core.runs.run(lone.id, { signal: new AbortController().signal, host }), /Assign it to an agent first/);
    t.core.agents.setEnabled(agent.id, false);
    await assert.rejects(t.core.runs.run(task.id, { signal: new AbortController().signal, host }), /disabled/);
    t.core.agents.setEnabled(agent.id, true);
    t.core.tasks.cancel(task.id);
    await assert.rejects(t.core.runs.run(task.id, { signal: new AbortController().signal, host }), /cancelled and cannot become in progress/);
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
  });
});
