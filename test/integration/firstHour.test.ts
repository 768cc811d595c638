/**
 * A new user's first hour, finding by finding: each numbered item of the "first hour" issue, checked in a
 * real VS Code through the real commands, quick inputs and messages, against fake Ollama servers.
 */
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import type { Agent, Provider, Run, Task } from '../../src/core/model/schemas';
import type { Ai2aiApi } from '../../src/extension';
import type { ShownInput } from '../../src/vscode/input';
import { TASK_PANEL_TYPE } from '../../src/vscode/taskPanel/panel';
import type { AgentNode } from '../../src/vscode/trees/agentsTree';
import type { TaskNode } from '../../src/vscode/trees/tasksTree';
import { startFakeOllama, type FakeOllama } from '../fake-ollama/server';
import { addFunctionScenario, asText, asToolCall } from '../fake-ollama/scenarios';
import { activate, button, dismiss, enter, pick, runWithAnswers, text, until, watch, type Reply } from './helpers';

const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

describe('The first hour of a new user (issue 11)', function () {
  this.timeout(120_000);
  let api: Ai2aiApi;
  let core: Core;
  /** The server of the built-in provider (Ollama on this machine). */
  let local: FakeOllama;
  const root = () => vscode.workspace.workspaceFolders![0].uri.fsPath;
  const agentRow = (id: string) => {
    const node = (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.id === id);
    return node ? api.trees.agents.getTreeItem(node) : undefined;
  };
  const watchers: Array<{ dispose(): void }> = [];
  /** Answers messages and widgets until the end of the test, failing or not. */
  const watching = (...a: Parameters<typeof watch>) => {
    const w = watch(...a);
    watchers.push(w);
    return w;
  };
  afterEach(() => watchers.splice(0).forEach(w => w.dispose()));
  const messages = (shown: ShownInput[]) => shown.filter((s): s is Extract<ShownInput, { kind: 'message' }> => s.kind === 'message');

  before(async () => {
    api = await activate();
    core = await api.ready;
    local = await startFakeOllama();
    core.providers.edit('ollama-local', { baseUrl: local.url });
    await vscode.commands.executeCommand('ai2ai.tasks.focus'); // the Tasks view is on screen, as for a user watching the board
  });
  after(async () => local?.close());

  describe('1. agents choose their model server and a model from its own list', () => {
    let remote: FakeOllama;
    let remy: Agent;
    let task: Task;
    before(async () => (remote = await startFakeOllama()));
    after(async () => remote?.close());

    it('an agent bound to a second provider runs against it; the server of the default provider sees nothing', async () => {
      const { result: gpu } = await runWithAnswers<Provider>(api, 'ai2ai.addProvider', [pick('Ollama'), text('GPU box'), text(remote.url), text('1')]);
      await until('the new provider checked', () => core.providers.lastHealth(gpu.id)?.ok === true, 10_000);
      const seen: Array<{ title: string; items: string[] }> = [];
      const w = watching(api, s => {
        if (s.kind === 'pick') seen.push({ title: String(s.widget.placeholder), items: s.widget.items.map(i => `${i.label} | ${i.description ?? ''}`) });
        return undefined;
      });
      const { result } = await runWithAnswers<Agent>(api, 'ai2ai.createAgent', [
        text('Remy'),
        pick('Developer'),
        text('javascript, testing'),
        enter('GPU box'), // the server just added is the default
        pick('qwen2.5-coder:7b'), // only the server's own list has it
        pick('agents/remy'),
      ]);
      w.dispose();
      remy = result;
      assert.equal(remy.providerId, gpu.id);
      assert.equal(remy.model, 'qwen2.5-coder:7b');
      const models = seen.find(s => s.title.startsWith('Which model on GPU box'));
      assert.ok(models, `the model step lists GPU box's models: ${JSON.stringify(seen)}`);
      assert.ok(models.items.some(i => /^qwen2\.5-coder:7b \| 4\.7 GB · 7\.6B/.test(i)), models.items.join('; '));
      const providers = seen.find(s => s.title === 'Which model server runs this agent?')!;
      assert.ok(providers.items.includes('Add a model server… | '), 'a server can be added from the step');
      assert.ok(providers.items.some(i => /^GPU box \| online · 127\.0\.0\.1:\d+$/.test(i)), providers.items.join('; '));

      task = core.tasks.create({ title: 'Add on the GPU box', description: 'src/add.js exporting add(a, b), with tests', assigneeId: remy.id });
      remote.script('qwen2.5-coder:7b', ...addFunctionScenario().map(asToolCall));
      const localBefore = local.requests.length;
      const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      assert.equal(run.outcome, 'completed', run.reason ?? '');
      assert.equal(run.providerId, gpu.id);
      assert.ok(remote.requestsTo('/api/chat').length >= 8);
      // (Its health is still checked in the background, like every provider's.)
      assert.deepEqual(local.requests.slice(localBefore).map(r => r.path).filter(p => !['/api/version', '/api/tags', '/api/ps'].includes(p)), [], 'no run asked the default provider');
    });

    it('6. the finished task is revealed in its group, selected', async () => {
      await until('the completed task selected in the Tasks view', () => api.taskView.selection.some(n => n.kind === 'task' && n.task.id === task.id), 5000);
      const group = (api.trees.tasks.getChildren() as TaskNode[]).find(n => n.kind === 'group' && n.status === 'completed')!;
      assert.ok(group);
    });

    it('3. the details view: titled by the task, a pinned tab, the runs of the completed task, live, with working buttons', async () => {
      const panel = await vscode.commands.executeCommand<vscode.WebviewPanel>('ai2ai.showTask', task.id);
      assert.equal(panel.title, 'Add on the GPU box');
      const tabs = () => vscode.window.tabGroups.all.flatMap(g => g.tabs).filter(t => t.input instanceof vscode.TabInputWebview);
      await until('its tab', () => tabs().some(t => t.label === 'Add on the GPU box'));
      const tab = tabs().find(t => t.label === 'Add on the GPU box')!;
      assert.match((tab.input as vscode.TabInputWebview).viewType, new RegExp(`${TASK_PANEL_TYPE.replace('.', '\\.')}$`));
      assert.equal(tab.isActive, true);
      assert.equal(tab.isPreview, false, 'pinned: the next click does not replace it');
      assert.ok(panel.webview.options.enableScripts && !panel.webview.options.enableCommandUris);
      assert.deepEqual(panel.webview.options.localResourceRoots, [], 'no local resources');
      assert.match(panel.webview.html, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;/);
      const view = () => api.panels.get(task.id)!;
      assert.match(view().body, /data-status="completed"/);
      const [run] = core.executor.list(task.id);
      assert.match(view().body, new RegExp(`<tr data-run="${run.id}" data-outcome="completed">`));
      assert.match(view().body, /Remy<div class="dim">qwen2\.5-coder:7b on GPU box<\/div>/);
      assert.match(view().body, /2 passed, 0 failed/);
      // The same task opens the same tab.
      assert.equal(await vscode.commands.executeCommand('ai2ai.showTask', task.id), panel);
      // Its buttons: the transcript of the run.
      const editor = (await view().press('transcript', run.id)) as vscode.TextEditor;
      assert.equal(editor.document.uri.scheme, 'ai2ai-transcript');
      assert.match(editor.document.getText(), /^# Remy on "Add on the GPU box"/);
      assert.match(editor.document.getText(), /## Remy \(step 1\)/);
      assert.equal(vscode.window.tabGroups.activeTabGroup.activeTab?.isPreview, false);
      // Deleting the agent keeps its runs in the task's details, live.
      await vscode.commands.executeCommand('ai2ai.showTask', task.id);
      core.agents.delete(remy.id);
      await until('the view to follow the deletion', () => /Remy <span class="dim">\(deleted\)<\/span>/.test(view().body), 5000);
      assert.match(view().body, /data-outcome="completed"/);
      panel.dispose();
    });

    it('Edit Agent moves an agent to another model server, with a model from that server\'s list', async () => {
      const eve = await core.agents.create({ name: 'Eve', role: 'developer', model: 'gemma3:1b' });
      const gpu = core.providers.list().find(p => p.name === 'GPU box')!;
      const { result } = await runWithAnswers<Agent>(api, 'ai2ai.editAgent', [pick('Model server'), pick('GPU box'), pick('qwen3:4b')], eve.id);
      assert.deepEqual([result.providerId, result.model], [gpu.id, 'qwen3:4b']);
      assert.deepEqual([core.agents.get(eve.id).providerId, core.agents.get(eve.id).model], [gpu.id, 'qwen3:4b']);
      core.agents.delete(eve.id);
    });
  });

  it("1. an agent's row shows that its model server is offline, and clears by itself when the server is back", async () => {
    const flaky = await startFakeOllama();
    const port = flaky.port;
    const p = core.providers.create({ kind: 'ollama', name: 'Flaky box', baseUrl: flaky.url });
    const fay = await core.agents.create({ name: 'Fay', role: 'developer', model: 'gemma3:1b', providerId: p.id });
    await flaky.close();
    assert.equal(await vscode.commands.executeCommand('ai2ai.testConnection', p.id), false);
    await until('the row to say so', () => String(agentRow(fay.id)?.description).includes('provider offline'));
    const node = (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.id === fay.id)!;
    const details = (api.trees.agents.getChildren(node) as AgentNode[]).map(c => api.trees.agents.getTreeItem(c));
    assert.ok(details.some(d => d.label === 'Model server' && /Flaky box is offline/.test(String(d.description))));
    const back = await startFakeOllama({ port });
    try {
      await until('the row to clear by itself (the provider is re-checked)', () => String(agentRow(fay.id)?.description) === 'gemma3:1b · ready', 40_000);
    } finally {
      await back.close();
      core.agents.delete(fay.id);
      core.providers.delete(p.id);
    }
  });

  describe('2. no action runs from a dismissed message; a pull always asks first', () => {
    it('dismissing the failure of a missing model makes no pull request; choosing Pull asks, naming the model and its size', async () => {
      const pia = await core.agents.create({ name: 'Pia', role: 'developer', model: 'tiny:1b' });
      const task = core.tasks.create({ title: 'Needs a missing model', assigneeId: pia.id });
      const pulls = () => local.requestsTo('/api/pull').length;
      const before = pulls();
      let w = watching(api, () => dismiss);
      let run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      assert.equal(run.errorKind, 'model_not_found');
      const [failure] = messages(w.shown);
      assert.match(failure.title, /^Pia did not finish "Needs a missing model": Model tiny:1b is not available/);
      assert.deepEqual(failure.actions, ['Pull Model…', 'Show Details']);
      await sleep(1500);
      assert.equal(pulls(), before, 'dismissed: nothing pulled');
      w.dispose();

      // Pull Model… asks, with the size it cannot know: "several GB"; Cancel pulls nothing either.
      const asked: string[] = [];
      w = watching(api, s => {
        if (s.kind === 'message') return /did not finish/.test(s.title) ? button('Pull Model…') : dismiss;
        asked.push(`${s.title} | ${s.kind === 'pick' ? s.widget.items.map(i => i.label).join(', ') : ''}`);
        return pick('Cancel');
      });
      run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      await until('the confirmation', () => asked.length > 0);
      assert.deepEqual(asked, ['Pull tiny:1b to Ollama (this machine)? | Download tiny:1b (several GB), Cancel']);
      await sleep(1000);
      assert.equal(pulls(), before, 'cancelled: nothing pulled');
      w.dispose();
      core.tasks.delete(task.id);
      core.agents.delete(pia.id);
    });

    it('dismissing the failure of a run that hit its step limit pulls nothing (it offers no pull at all)', async () => {
      const sam = await core.agents.create({ name: 'Sam', role: 'developer', model: 'gemma3:1b', settings: { maxSteps: 1 } });
      const task = core.tasks.create({ title: 'Too long for one step', assigneeId: sam.id });
      local.script('gemma3:1b', asText({ tool: 'write_file', args: { path: 'a.txt', content: 'a' } }));
      const before = local.requestsTo('/api/pull').length;
      const w = watching(api, () => dismiss);
      const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      assert.equal(run.errorKind, 'step_limit');
      const [failure] = messages(w.shown);
      assert.match(failure.title, /step limit/);
      assert.ok(!failure.actions.includes('Pull Model…'));
      await sleep(1000);
      assert.equal(local.requestsTo('/api/pull').length, before);
      w.dispose();
      core.tasks.delete(task.id);
      core.agents.delete(sam.id);
    });
  });

  it('4. Enter on the priority step gives "normal"; Create Task attaches the active editor\'s file', async () => {
    await vscode.window.showTextDocument(vscode.Uri.file(path.join(root(), 'src', 'math.js')), { preview: false });
    let firstItem = '';
    const w = watching(api, s => {
      if (s.kind === 'pick' && s.widget.canSelectMany) firstItem = `${s.widget.items[0]?.label} | ${s.widget.items[0]?.detail}`;
      return undefined;
    });
    const { result } = await runWithAnswers<Task>(api, 'ai2ai.createTask', [
      text('Document math.js'),
      text('Explain each function'),
      text('docs'),
      enter('normal'),
      { type: 'pickMany', labels: ['math.js'] },
      enter('Leave unassigned'),
    ]);
    w.dispose();
    assert.equal(result.priority, 1, 'normal');
    assert.equal(firstItem, 'math.js | the active editor');
    assert.deepEqual(result.attachments, ['src/math.js']);
    core.tasks.delete(result.id);
  });

  it('5. Cancel from the tree ends the task cancelled, in the Cancelled group, and nothing says it failed', async () => {
    const cal = await core.agents.create({ name: 'Cal', role: 'developer', model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'Cancel me', assigneeId: cal.id });
    local.script('gemma3:1b', { content: 'thinking '.repeat(2000), pieceDelayMs: 20 });
    const w = watching(api, () => dismiss);
    await vscode.commands.executeCommand('ai2ai.tasks.focus');
    await until('the Tasks view on screen', () => api.taskView.visible);
    const running = vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
    await until('the run to stream', () => core.app.isRunning(task.id) && local.counters.active > 0, 10_000);
    const group = (api.trees.tasks.getChildren() as TaskNode[]).find(n => n.kind === 'group' && n.status === 'in_progress')!;
    const node = (api.trees.tasks.getChildren(group) as TaskNode[]).find(n => n.kind === 'task' && n.task.id === task.id)!;
    const cancelled = await vscode.commands.executeCommand<Task>('ai2ai.cancelTask', node);
    assert.equal(cancelled.status, 'cancelled');
    const run = await running;
    assert.equal(run.outcome, 'cancelled');
    await until(
      'the task selected in the Cancelled group',
      () => api.taskView.selection.some(n => n.kind === 'task' && n.task.id === task.id && n.task.status === 'cancelled'),
      5000,
    ).catch(e => {
      throw new Error(`${e.message} (view visible: ${api.taskView.visible}, selection: ${JSON.stringify(api.taskView.selection.map(n => (n.kind === 'task' ? `${n.task.title}:${n.task.status}` : n.status)))})`);
    });
    const said = [...core.activity.updates(task.id).map(u => u.body), ...messages(w.shown).map(m => m.title), core.tasks.get(task.id).failureReason ?? ''];
    assert.deepEqual(said.filter(x => /fail/i.test(x)), [], 'no "failed: Cancelled by user"');
    w.dispose();
    core.tasks.delete(task.id);
    core.agents.delete(cal.id);
  });

  it('6. the provider\'s state comes first in its row, so a normal-width sidebar shows it', () => {
    const item = api.trees.providers.getTreeItem({ kind: 'provider', provider: core.providers.get('ollama-local') });
    assert.match(String(item.description), /^(online|offline|not checked)\b/);
  });

  it('7. the time budget stops a model call that has not answered, and says how long in seconds', async () => {
    const cfg = vscode.workspace.getConfiguration('ai2ai');
    await cfg.update('agent.timeBudgetMinutes', 0.1, vscode.ConfigurationTarget.Global);
    const tim = await core.agents.create({ name: 'Tim', role: 'developer', model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'A server that holds its headers', assigneeId: tim.id });
    try {
      local.script('gemma3:1b', { content: 'never', stallAfter: 0 });
      const aborted = local.counters.aborted;
      const w = watching(api, () => dismiss);
      const t0 = Date.now();
      const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      w.dispose();
      assert.ok(Date.now() - t0 < 20_000, `took ${Date.now() - t0} ms`);
      assert.equal(run.errorKind, 'time_budget');
      assert.equal(run.reason, 'Stopped after 6 seconds (the time budget) without completing. Raise the time budget or split the task.');
      await local.waitFor(() => local.counters.aborted > aborted, 5000, 'the server to see the call stopped');
    } finally {
      await cfg.update('agent.timeBudgetMinutes', undefined, vscode.ConfigurationTarget.Global);
      core.tasks.delete(task.id);
      core.agents.delete(tim.id);
    }
  });

  it('7. a long conversation against a server that counts only uncached prompt tokens is neither reported truncated nor condensed', async () => {
    const old = await startFakeOllama({ promptCountMode: 'old' });
    const p = core.providers.create({ kind: 'ollama', name: 'Older Ollama', baseUrl: old.url });
    const olga = await core.agents.create({ name: 'Olga', role: 'developer', model: 'gemma3:1b', providerId: p.id, settings: { numCtx: 4096 } });
    const task = core.tasks.create({ title: 'A long brief', description: `Context:\n${'lorem ipsum dolor sit amet '.repeat(140)}`, assigneeId: olga.id });
    try {
      const write = (i: number) => asText({ tool: 'write_file', args: { path: `notes/${i}.txt`, content: `note ${i}` } });
      old.script('gemma3:1b', write(1), write(2), write(3), write(4), asText({ tool: 'complete', args: { result: 'Wrote the notes.' } }));
      const w = watching(api, () => dismiss);
      const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
      w.dispose();
      assert.equal(run.outcome, 'completed', run.reason ?? '');
      const gens = old.generations;
      assert.ok(gens[0].promptTokens > 2048, `past half the window: ${gens[0].promptTokens} of 4096`);
      assert.ok(gens.slice(1).every(g => g.cachedTokens > 2000 && g.evaluatedTokens < 300), 'served from the cache, counted as only the new part');
      const bodies = core.activity.updates(task.id).map(u => u.body);
      assert.deepEqual(bodies.filter(b => /silently dropped|Condensed/.test(b)), []);
    } finally {
      await old.close();
      core.tasks.delete(task.id);
      core.agents.delete(olga.id);
      core.providers.delete(p.id);
    }
  });

  it('8. a path that repeats the agent\'s folder lands in it, and a node --test folder is tested before complete', async () => {
    const nod = await core.agents.create({ name: 'Nod', role: 'developer', model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'Add with node --test', assigneeId: nod.id });
    const folder = path.join(root(), nod.workspace);
    const test = "const test = require('node:test');\nconst assert = require('node:assert');\nconst add = require('../src/add.js');\ntest('adds', () => assert.strictEqual(add(2, 3), 5));\n";
    local.script(
      'gemma3:1b',
      asText({ tool: 'write_file', args: { path: 'agents/nod/src/add.js', content: 'module.exports = (a, b) => a + b;\n' } }),
      asText({ tool: 'write_file', args: { path: 'agents/nod/tests/add.test.js', content: test } }),
      asText({ tool: 'complete', args: { result: 'add(a, b) with a test.' } }),
    );
    const w = watching(api, () => dismiss);
    const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
    w.dispose();
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    assert.ok(fs.existsSync(path.join(folder, 'src', 'add.js')));
    assert.ok(!fs.existsSync(path.join(folder, 'agents')), 'not agents/nod/agents/nod/...');
    assert.equal(run.testsPassed, 1);
    assert.ok(core.activity.updates(task.id).some(u => u.kind === 'test' && u.body === '1 passed, 0 failed (checked before completing)'));
    assert.doesNotMatch(core.tasks.get(task.id).result ?? '', /without tests/);
    core.tasks.delete(task.id);
    core.agents.delete(nod.id);
  });

  it('9. Run Task on a disabled agent\'s failed task refuses before changing anything and offers Enable Agent; pickers mark disabled agents', async () => {
    const dis = await core.agents.create({ name: 'Dis', role: 'developer', model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'Failed earlier', assigneeId: dis.id });
    core.tasks.transition(task.id, 'in_progress');
    core.tasks.transition(task.id, 'failed', { failureReason: 'boom' });
    core.agents.setEnabled(dis.id, false);
    let w = watching(api, () => dismiss);
    assert.equal(await vscode.commands.executeCommand('ai2ai.runTask', task.id), undefined);
    const [refusal] = messages(w.shown);
    assert.match(refusal.title, /Agent "Dis" is disabled/);
    assert.deepEqual(refusal.actions, ['Enable Agent']);
    w.dispose();
    assert.equal(core.tasks.get(task.id).status, 'failed', 'nothing changed');
    assert.equal(core.tasks.get(task.id).failureReason, 'boom');

    // The Assign picker marks it, last.
    let items: Array<{ label: string; description?: string }> = [];
    w = watching(api, s => {
      if (s.kind === 'pick') items = s.widget.items.map(i => ({ label: i.label, description: i.description }));
      return s.kind === 'pick' ? ({ type: 'cancel' } as Reply) : dismiss;
    });
    await vscode.commands.executeCommand('ai2ai.assignTask', task.id);
    w.dispose();
    const agentsShown = items.filter(i => i.label !== 'Unassign');
    assert.match(agentsShown.find(i => i.label === 'Dis')?.description ?? '', /disabled/);
    assert.equal(agentsShown[agentsShown.length - 1].label, 'Dis', 'disabled agents last');

    // Enable Agent, then it runs.
    local.script('gemma3:1b', asText({ tool: 'complete', args: { result: 'ok' } }));
    w = watching(api, s => (s.kind === 'message' && /is disabled/.test(s.title) ? button('Enable Agent') : dismiss));
    const run = await vscode.commands.executeCommand<Run>('ai2ai.runTask', task.id);
    w.dispose();
    assert.equal(core.agents.get(dis.id).enabled, true);
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    core.tasks.delete(task.id);
    core.agents.delete(dis.id);
  });
});
