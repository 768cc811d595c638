import * as assert from 'assert';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import type { Agent, Task } from '../../src/core/model/schemas';
import type { Ai2aiApi } from '../../src/extension';
import { startFakeOllama, type FakeOllama } from '../fake-ollama/server';
import { asText } from '../fake-ollama/scenarios';
import { activate, pick, runWithAnswers, until } from './helpers';

describe('The team runs itself in VS Code: auto-run, queue positions, assignment reasons, one cancel', function () {
  this.timeout(120_000);
  let api: Ai2aiApi;
  let core: Core;
  let fake: FakeOllama;
  const item = (task: Task) => api.trees.tasks.getTreeItem({ kind: 'task', task: core.tasks.get(task.id), assignee: core.tasks.get(task.id).assigneeId ? core.agents.get(core.tasks.get(task.id).assigneeId!) : undefined });

  before(async () => {
    api = await activate();
    core = await api.ready;
    fake = await startFakeOllama({ numParallel: 1, defaultReply: { ...asText({ tool: 'complete', args: { result: 'done' } }), delayMs: 1500 } });
    core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: 1 });
    // Other suites' leftovers must not join this queue.
    for (const t of core.tasks.list({ status: ['pending', 'blocked'] })) core.app.cancel(t.id);
  });
  after(async () => {
    await vscode.commands.executeCommand('ai2ai.disableAutoRun');
    await fake?.close();
  });

  it('auto-run completes a queue of 3 tasks over 2 agents within the provider\'s one slot; the tree shows queue positions and why each agent was chosen', async () => {
    const agents: Agent[] = [];
    for (const name of ['Queue-A', 'Queue-B']) agents.push(await core.agents.create({ name, role: 'developer', skills: ['queueing'], model: 'gemma3:1b' }));
    const tasks = [1, 2, 3].map(i => core.tasks.create({ title: `queued task ${i}`, requiredSkills: ['queueing'] }));
    await vscode.commands.executeCommand('ai2ai.enableAutoRun');
    assert.equal(vscode.workspace.getConfiguration('ai2ai').get('scheduler.autoRun'), true);
    await until('one task to start', () => core.tasks.list({ status: ['in_progress'] }).some(t => tasks.some(x => x.id === t.id)), 15_000);
    const running = core.tasks.list({ status: ['in_progress'] }).find(t => tasks.some(x => x.id === t.id))!;
    const tooltip = (item(running).tooltip as vscode.MarkdownString).value.replace(/&nbsp;/g, ' ').replace(/\\/g, '');
    assert.match(tooltip, /Why Queue-[AB]: skills 1\/1, no record on queueing yet/);
    // The other two wait for the one slot: their rows say so, in order.
    await until('the queue positions in the tree', () => tasks.filter(t => t.id !== running.id).every(t => /queued #\d for gemma3:1b on Ollama/.test(String(item(t).description))), 10_000);
    const positions = tasks.filter(t => t.id !== running.id).map(t => String(item(t).description).match(/queued #(\d)/)![1]).sort();
    assert.deepEqual(positions, ['1', '2']);
    await until('all three to complete', () => tasks.every(t => core.tasks.get(t.id).status === 'completed'), 60_000);
    assert.ok(fake.counters.maxActiveByModel['gemma3:1b'] <= 1, 'never more than the one slot');
    const by = new Set(tasks.map(t => core.tasks.get(t.id).assigneeId));
    assert.ok([...by].every(id => agents.some(a => a.id === id)), 'assigned to the queue agents');
    await vscode.commands.executeCommand('ai2ai.disableAutoRun');
  });

  it('cancel from the palette (pick the task) ends a running task cancelled, like cancel from the tree', async () => {
    const agent = await core.agents.create({ name: 'Palette', role: 'developer', model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'cancel me from the palette', assigneeId: agent.id });
    fake.script('gemma3:1b', { content: 'thinking '.repeat(3000), pieceDelayMs: 20 });
    const running = vscode.commands.executeCommand('ai2ai.runTask', task.id);
    await until('the run to stream', () => core.app.isRunning(task.id) && fake.counters.active > 0, 15_000).catch(e => {
      throw new Error(`${e.message}: task ${core.tasks.get(task.id).status}, queue "${core.app.queueInfo(task.id)}", running ${core.runs.running().length}, fake active ${fake.counters.active}`);
    });
    const { result } = await runWithAnswers<Task>(api, 'ai2ai.cancelTask', [pick('cancel me from the palette')]);
    assert.equal(result.status, 'cancelled');
    await running;
    assert.equal(core.tasks.get(task.id).status, 'cancelled');
    assert.equal(core.agents.get(agent.id).status, 'ready');
  });
});
