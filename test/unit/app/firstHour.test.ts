import * as assert from 'node:assert/strict';
import { sandboxSetup } from '../sandbox/setup';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { openCore } from '../../../src/core';
import { NO_TESTS_NOTE } from '../../../src/core/loop/agentLoop';
import { MIGRATIONS } from '../../../src/core/store/migrations';
import { openStore } from '../../../src/core/store/sqlite';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { addFunctionScenario, asText } from '../../fake-ollama/scenarios';
import { tempCore, WASM, type TempCore } from '../core/helpers';

describe('application layer: what a new user meets in the first hour', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  beforeEach(async () => {
    // Commands run in the real OS sandbox, as in the extension (allowlisted ones without asking).
    t = await tempCore({ allowlist: ['npm test', 'node --test'] }, { approvals: { approve: async () => false, trusted: () => true, commands: () => sandboxSetup() } });
    fake = await startFakeOllama();
    t.core.providers.edit('ollama-local', { baseUrl: fake.url });
  });
  afterEach(async () => {
    t.cleanup();
    await fake.close();
  });

  const agentWithTask = async (name: string, model = 'gemma3:1b', settings = {}) => {
    const agent = await t.core.agents.create({ name, role: 'developer', model, settings });
    const task = t.core.tasks.create({ title: `Task of ${name}`, assigneeId: agent.id });
    return { agent, task };
  };

  it("a task's runs outlive their agent, named as it was", async () => {
    const { agent, task } = await agentWithTask('Ada');
    fake.script('gemma3:1b', ...addFunctionScenario().map(asText));
    assert.equal((await t.core.app.runTask(task.id)).outcome, 'completed');
    t.core.agents.delete(agent.id);
    const d = t.core.app.taskDetails(task.id);
    assert.equal(d.assignee, null);
    assert.equal(d.runs.length, 1);
    assert.equal(d.runs[0].agentName, 'Ada');
    assert.equal(d.runs[0].agentDeleted, true);
    assert.equal(d.runs[0].outcome, 'completed');
    assert.ok(d.updates.some(u => u.kind === 'test'));
  });

  it('migration 5 keeps the runs of a version-4 database, with their agent names, and drops the cascade', async () => {
    const storageDir = path.join(t.root, 'old');
    const v4 = await openStore({ dir: storageDir, wasmPath: WASM, watch: false }, undefined, MIGRATIONS.filter(m => m.version <= 4));
    v4.mutate(tx => {
      tx.run(`INSERT INTO agents (id, name, role, provider_id, model, workspace, created_at, updated_at) VALUES ('a1', 'Ada', 'dev', 'ollama-local', 'gemma3:1b', 'agents/ada', 1, 1)`);
      tx.run(`INSERT INTO tasks (id, title, created_at, updated_at) VALUES ('t1', 'Old task', 1, 1)`);
      for (const [id, at] of [['r1', 1], ['r2', 2]] as const) {
        tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, ended_at, outcome, steps, cached_tokens) VALUES (?, 't1', 'a1', ?, ?, 'completed', 3, 7)`, [id, at, at + 1]);
      }
    });
    v4.close();
    const core = await openCore({ storageDir, wasmPath: WASM, workspaceFolders: { folders: () => [t.workspaceDir] }, settings: () => t.settings, watch: false, schedule: false });
    try {
      assert.deepEqual(core.executor.list('t1').map(r => [r.id, r.agentName, r.steps, r.cachedTokens]), [['r1', 'Ada', 3, 7], ['r2', 'Ada', 3, 7]]);
      core.agents.delete('a1');
      assert.equal(core.executor.list('t1').length, 2, 'deleting the agent keeps its runs');
      assert.equal(core.app.taskDetails('t1').runs[1].agentName, 'Ada');
      core.tasks.delete('t1');
      assert.equal(core.executor.list('t1').length, 0, 'deleting the task still deletes its runs');
    } finally {
      core.dispose();
    }
  });

  it('the fallback from native tool calls to the text protocol is remembered per provider and model', async () => {
    const { task } = await agentWithTask('Nat', 'gemma3:1b', { toolProtocol: 'native' });
    fake.script('gemma3:1b', asText({ tool: 'complete', args: { result: 'one' } }), asText({ tool: 'complete', args: { result: 'two' } }));
    assert.equal(t.core.providers.nativeTools('ollama-local', 'gemma3:1b'), undefined);
    assert.equal((await t.core.app.runTask(task.id)).outcome, 'completed');
    const first = fake.requestsTo('/api/chat');
    assert.ok(Array.isArray(first[0].body.tools), 'the first run tried native tools and met the 400');
    assert.equal(t.core.providers.nativeTools('ollama-local', 'gemma3:1b'), false);
    const next = t.core.tasks.create({ title: 'again', assigneeId: task.assigneeId });
    const before = fake.requestsTo('/api/chat').length;
    assert.equal((await t.core.app.runTask(next.id)).outcome, 'completed');
    const second = fake.requestsTo('/api/chat').slice(before);
    assert.ok(second.length === 1 && second[0].body.tools === undefined, 'the next run starts with the text protocol');
    assert.ok(t.core.activity.updates(next.id).some(u => /refused native tool calls before/.test(u.body)));
    // Choosing the protocol again for the agent is a request to try it.
    const agentId = task.assigneeId!;
    await t.core.agents.edit(agentId, { settings: { toolProtocol: 'auto' } });
    assert.equal(t.core.providers.nativeTools('ollama-local', 'gemma3:1b'), undefined);
    t.core.providers.noteNativeTools('ollama-local', 'gemma3:1b', false, 'again');
    // Another server behind the provider: forgotten.
    t.core.providers.edit('ollama-local', { baseUrl: `${fake.url}/` });
    assert.equal(t.core.providers.nativeTools('ollama-local', 'gemma3:1b'), false, 'the same URL (a trailing slash) keeps it');
    t.core.providers.edit('ollama-local', { baseUrl: 'http://127.0.0.1:9' });
    assert.equal(t.core.providers.nativeTools('ollama-local', 'gemma3:1b'), undefined);
  });

  it("records the prompt tokens the server served from its cache on the run, for the dashboard", async () => {
    const { task } = await agentWithTask('Ada');
    fake.script('gemma3:1b', ...addFunctionScenario().map(asText));
    await t.core.app.runTask(task.id);
    const [run] = t.core.executor.list(task.id);
    const served = fake.generations.reduce((s, g) => s + g.cachedTokens, 0);
    assert.ok(served > 0);
    assert.equal(run.cachedTokens, served);
  });

  it('a run that completes without tests says so in the result, the run and the timeline', async () => {
    const { task } = await agentWithTask('Ada');
    fake.script('gemma3:1b', asText({ tool: 'complete', args: { result: 'Wrote it.' } }));
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.outcome, 'completed');
    assert.equal(run.reason, NO_TESTS_NOTE);
    assert.equal(NO_TESTS_NOTE, 'Completed without tests: none were found.');
    assert.equal(t.core.tasks.get(task.id).result, `Wrote it.\n\n(${NO_TESTS_NOTE})`);
    assert.ok(t.core.activity.updates(task.id).some(u => u.kind === 'test' && u.body.startsWith(NO_TESTS_NOTE)));
  });

  it('a connection dropped by the server leaves the agent ready (like a busy server), not in error', async () => {
    const server = http.createServer(q => q.socket.destroy());
    await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
    try {
      const p = t.core.providers.create({ kind: 'ollama', name: 'Flaky', baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
      const agent = await t.core.agents.create({ name: 'Fl', role: 'dev', model: 'gemma3:1b', providerId: p.id });
      const task = t.core.tasks.create({ title: 'x', assigneeId: agent.id });
      const run = await t.core.app.runTask(task.id);
      assert.equal(run.errorKind, 'connection_lost');
      assert.equal(t.core.agents.get(agent.id).status, 'ready');
      assert.equal(t.core.tasks.get(task.id).status, 'failed');
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });

  it("an agent's model picker reads the provider's own models (size, loaded), or suggests known ones and says why", async () => {
    fake.script('gemma3:1b', { content: 'hi' });
    await t.core.providers.client('ollama-local').chat({ model: 'gemma3:1b', messages: [{ role: 'user', content: 'hi' }], options: {} }, AbortSignal.timeout(5000));
    const list = await t.core.app.models('ollama-local', AbortSignal.timeout(5000));
    assert.ok(list.ok);
    const gemma = list.models.find(m => m.name === 'gemma3:1b')!;
    assert.deepEqual([gemma.sizeBytes, gemma.loaded], [815_319_791, true]);
    assert.equal(list.models.find(m => m.name === 'deepseek-coder-v2:16b')?.loaded, false);
    const down = t.core.providers.create({ kind: 'ollama', name: 'Down', baseUrl: 'http://127.0.0.1:9' });
    const none = await t.core.app.models(down.id, AbortSignal.timeout(5000));
    assert.ok(!none.ok);
    assert.match(none.reason, /ollama serve/);
    assert.deepEqual(none.suggestions.map(m => m.name), ['deepseek-coder-v2:16b', 'gemma3:1b']);
  });

  it('before a pull: the size when the model is known, nothing made up when it is not', async () => {
    const known = await t.core.app.pullInfo('ollama-local', 'deepseek-coder-v2:16b', AbortSignal.timeout(5000));
    assert.deepEqual([known.sizeBytes, known.present, known.provider.id], [8.9e9, true, 'ollama-local']);
    const unknown = await t.core.app.pullInfo('ollama-local', 'llama3.2:3b', AbortSignal.timeout(5000));
    assert.deepEqual([unknown.sizeBytes, unknown.present], [undefined, false]);
    const down = t.core.providers.create({ kind: 'ollama', name: 'Down', baseUrl: 'http://127.0.0.1:9' });
    assert.equal((await t.core.app.pullInfo(down.id, 'gemma3:1b', AbortSignal.timeout(5000))).present, undefined, 'unknown, not absent');
  });

  it('an agent in error for a missing model is ready again by itself once its provider serves the model', async () => {
    const { agent, task } = await agentWithTask('Ada', 'tiny:1b');
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.errorKind, 'model_not_found');
    assert.equal(t.core.agents.get(agent.id).status, 'error');
    fake.addModel({ name: 'tiny:1b', family: 'gemma3', capabilities: ['completion'], contextLength: 8192, sizeBytes: 1e8 });
    const h = await t.core.app.checkProvider('ollama-local');
    assert.equal(h.ok, true);
    assert.equal(t.core.agents.get(agent.id).status, 'ready');
    assert.equal(t.core.agents.get(agent.id).statusReason, null);
  });

  it('the first-token timeout comes from the settings, and the run names the setting when it fires', async () => {
    t.settings.providers = { firstTokenTimeoutMs: 300 };
    t.settings.budgets = { retryBaseMs: 10 };
    const { task } = await agentWithTask('Ada');
    fake.script('gemma3:1b', ...Array.from({ length: 4 }, () => ({ content: 'late', stallAfter: 0 })));
    const t0 = Date.now();
    const run = await t.core.app.runTask(task.id);
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal(run.errorKind, 'timeout');
    assert.match(run.reason ?? '', /raise the setting ai2ai\.models\.firstTokenTimeoutSeconds\. Gave up after 4 attempts\./);
  });
});
