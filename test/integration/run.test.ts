import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import type { Agent, Run, Task } from '../../src/core/model/schemas';
import type { Ai2aiApi } from '../../src/extension';
import type { ProviderNode } from '../../src/vscode/trees/providersTree';
import { startFakeOllama, type FakeOllama } from '../fake-ollama/server';
import { addFunctionScenario, asText, asToolCall } from '../fake-ollama/scenarios';
import { activate, pick, runWithAnswers, text, until } from './helpers';

describe('Agents at work in VS Code (against the fake Ollama)', function () {
  this.timeout(120_000);
  let api: Ai2aiApi;
  let core: Core;
  let fake: FakeOllama;
  const root = () => vscode.workspace.workspaceFolders![0].uri.fsPath;

  before(async () => {
    api = await activate();
    core = await api.ready;
    fake = await startFakeOllama();
  });
  after(async () => fake?.close());

  it('points the local Ollama provider at the server through the Edit Provider command, and tests the connection', async () => {
    const node: ProviderNode = { kind: 'provider', provider: core.providers.get('ollama-local') };
    const { result } = await runWithAnswers<{ baseUrl: string }>(api, 'ai2ai.editProvider', [pick('Base URL'), text(fake.url)], node);
    assert.equal(result.baseUrl, fake.url);
    const ok = await vscode.commands.executeCommand<boolean>('ai2ai.testConnection', { kind: 'provider', provider: core.providers.get('ollama-local') });
    assert.equal(ok, true);
    await until('the provider shown online', () => String(api.trees.providers.getTreeItem({ kind: 'provider', provider: core.providers.get('ollama-local') }).description).includes('online'));
  });

  it('lists models, pulls one with progress, and shows an unreachable provider offline with the reason', async () => {
    const node = (): ProviderNode => ({ kind: 'provider', provider: core.providers.get('ollama-local') });
    const { result: model } = await runWithAnswers<string>(api, 'ai2ai.listModels', [pick('deepseek-coder-v2:16b')], node());
    assert.equal(model, 'deepseek-coder-v2:16b');
    // A pull always asks first, naming the model, the server and the size.
    const { result: pulled, titles } = await runWithAnswers<boolean>(api, 'ai2ai.pullModel', [pick('Download gemma3:1b (815 MB)')], 'gemma3:1b', 'ollama-local');
    assert.equal(pulled, true);
    assert.deepEqual(titles, ['Pull gemma3:1b to Ollama (this machine)?']);
    assert.equal(fake.requestsTo('/api/pull').length, 1);
    // A provider nobody listens on: the check says so, and the view shows it offline with the reason.
    const down = core.providers.create({ kind: 'ollama', name: 'Nowhere', baseUrl: 'http://127.0.0.1:9' });
    assert.equal(await vscode.commands.executeCommand('ai2ai.testConnection', { kind: 'provider', provider: down }), false);
    const item = api.trees.providers.getTreeItem({ kind: 'provider', provider: down });
    assert.match(String(item.description), /offline/);
    assert.match(String(item.tooltip), /Offline: .*(ollama serve|running|reach|refused)/i);
    core.providers.delete(down.id);
  });

  async function agentWithTask(name: string, model: string, providerId = 'ollama-local'): Promise<{ agent: Agent; task: Task; folder: string }> {
    const agent = await core.agents.create({ name, role: 'developer', skills: ['javascript'], model, providerId });
    const task = core.tasks.create({ title: `Write the add function (${name})`, description: 'src/add.js exporting add(a, b), with tests', assigneeId: agent.id });
    return { agent, task, folder: path.join(root(), agent.workspace) };
  }

  function assertDone(run: Run, task: Task, folder: string): void {
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    assert.match(fs.readFileSync(path.join(folder, 'src/add.js'), 'utf8'), /return a \+ b;/);
    assert.ok(fs.existsSync(path.join(folder, 'tests/add.test.js')));
    const t = core.tasks.get(task.id);
    assert.equal(t.status, 'completed');
    assert.match(t.result ?? '', /All tests pass/);
    const tests = core.activity.updates(task.id).filter(u => u.kind === 'test').map(u => u.body);
    assert.ok(tests.length >= 2 && /[1-9]\d* failed/.test(tests[0]) && /^2 passed, 0 failed/.test(tests[tests.length - 1]), tests.join(' | '));
    const runs = core.executor.list(task.id);
    assert.equal(runs.length, 1);
    assert.ok(runs[0].promptTokens > 0 && runs[0].transcript && fs.existsSync(runs[0].transcript));
  }

  it('gemma3:1b (no tool calling, text protocol) writes, tests, fixes and completes: Run Task command', async () => {
    const { agent, task, folder } = await agentWithTask('Gemma', 'gemma3:1b');
    fake.script('gemma3:1b', ...addFunctionScenario().map(asText));
    const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', { kind: 'task', task });
    assertDone(run, task, folder);
    assert.equal(core.agents.get(agent.id).status, 'ready');
    await until('the task in the Completed group', () =>
      (api.trees.tasks.getChildren() as Array<{ kind: string; status?: string }>).some(n => n.kind === 'group' && n.status === 'completed'),
    );
    // Every step is visible to the user: the task's details open from the tree and follow new updates live.
    await vscode.commands.executeCommand('ai2ai.showTask', { kind: 'task', task });
    const text = () => api.panels.get(task.id)?.body ?? '';
    assert.match(text(), /data-status="completed"/);
    assert.match(text(), /<tr data-run="[^"]+" data-outcome="completed">[\s\S]*<td class="num">8<\/td>/);
    assert.match(text(), /<span class="badge kind">test<\/span> <strong>Gemma<\/strong><div class="text">2 passed, 0 failed/);
    assert.match(text(), /<span class="badge kind">tool<\/span> <strong>Gemma<\/strong><div class="text">write_file src\/add\.js/);
    core.activity.appendUpdate({ taskId: task.id, kind: 'feedback', body: 'Looks good, add a test for floats.' });
    await until('the view to show the new update', () => text().includes('add a test for floats'));
  });

  it('a tool-capable model through native tool calls: Start Agent command', async () => {
    const { agent, task, folder } = await agentWithTask('Qwen', 'qwen2.5-coder:7b');
    fake.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asToolCall));
    const run = await vscode.commands.executeCommand<Run>('ai2ai.startAgent', { kind: 'agent', agent });
    assertDone(run, task, folder);
    assert.ok(fake.requestsTo('/api/chat').some(r => Array.isArray(r.body.tools)));
  });

  it('an OpenAI-compatible server added through the Add Provider command', async () => {
    fake.options.apiKey = 'sk-test-key';
    try {
      const { result: provider } = await runWithAnswers<{ id: string; kind: string }>(api, 'ai2ai.addProvider', [
        pick('OpenAI-compatible server'),
        text('Local vLLM'),
        text(`${fake.url}/v1`),
        text('2'),
        text('sk-test-key'),
      ]);
      assert.equal(provider.kind, 'openai');
      const { task, folder } = await agentWithTask('Openai', 'qwen2.5-coder:7b', provider.id);
      fake.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asText));
      const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', { kind: 'task', task });
      assertDone(run, task, folder);
      assert.ok(fake.requestsTo('/v1/chat/completions').every(r => r.headers.authorization === 'Bearer sk-test-key'), 'the key from secret storage is sent');
    } finally {
      delete fake.options.apiKey;
    }
  });

  it('cancel stops the model stream within a second and ends the task cancelled', async () => {
    const { agent, task } = await agentWithTask('Slow', 'gemma3:1b');
    fake.script('gemma3:1b', { content: 'thinking '.repeat(2000), pieceDelayMs: 20 });
    const before = fake.counters.aborted;
    const running = vscode.commands.executeCommand<Run>('ai2ai.runTask', { kind: 'task', task });
    await until('the run to stream', () => core.app.isRunning(task.id) && fake.counters.active > 0, 10_000);
    const t0 = Date.now();
    const cancelled = await vscode.commands.executeCommand<Task>('ai2ai.cancelTask', { kind: 'task', task });
    assert.equal(cancelled?.status, 'cancelled');
    const run = await running;
    assert.ok(Date.now() - t0 < 1000, `cancel took ${Date.now() - t0} ms`);
    assert.equal(run.outcome, 'cancelled');
    assert.equal(core.tasks.get(task.id).status, 'cancelled');
    assert.equal(core.tasks.get(task.id).failureReason, 'Cancelled by user');
    assert.equal(core.agents.get(agent.id).status, 'ready');
    await fake.waitFor(() => fake.counters.aborted > before && fake.counters.active === 0, 5000, 'the server to stop generating');
  });
});
