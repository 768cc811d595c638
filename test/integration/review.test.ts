import * as assert from 'assert';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import type { Agent, Task } from '../../src/core/model/schemas';
import type { Ai2aiApi } from '../../src/extension';
import { startFakeOllama, type FakeOllama } from '../fake-ollama/server';
import { asText } from '../fake-ollama/scenarios';
import { activate, runWithAnswers, text, until } from './helpers';

const AUTHOR_MODEL = 'gemma3:1b';
const REVIEWER_MODEL = 'deepseek-coder-v2:16b';

describe('AI-to-AI review in VS Code', function () {
  this.timeout(120_000);
  let api: Ai2aiApi;
  let core: Core;
  let fake: FakeOllama;
  let author: Agent;
  const node = (task: Task) => ({ kind: 'task' as const, task: core.tasks.get(task.id), assignee: core.tasks.get(task.id).assigneeId ? core.agents.find(core.tasks.get(task.id).assigneeId!) : undefined });
  const description = (task: Task) => String(api.trees.tasks.getTreeItem(node(task)).description);

  before(async () => {
    api = await activate();
    core = await api.ready;
    fake = await startFakeOllama();
    core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: 2 });
    for (const t of core.tasks.list({ status: ['pending', 'blocked'] })) core.app.cancel(t.id);
    author = await core.agents.create({ name: 'Review-Author', role: 'developer', skills: ['javascript'], model: AUTHOR_MODEL });
  });
  after(async () => {
    // Later suites expect no reviewer: a task of theirs must not go to review (a failed test may leave one working).
    for (const a of core.agents.list().filter(x => x.skills.includes('review') && x.enabled)) {
      for (const t of core.tasks.list({ status: ['in_progress', 'pending'], assigneeId: a.id })) core.app.cancel(t.id);
      await until(`${a.name} to stop`, () => core.agents.get(a.id).status !== 'busy', 10_000).catch(() => undefined);
      core.agents.setEnabled(a.id, false);
    }
    await fake?.close();
  });

  it('author → reviewer (request changes) → author → reviewer (approve), visible in the tree and the details', async () => {
    const critic = await core.agents.create({ name: 'Critic', role: 'reviewer', skills: ['review'], model: REVIEWER_MODEL });
    const write = asText({ tool: 'write_file', args: { path: 'src/mul.js', content: 'module.exports = (a, b) => a + b;\n' } });
    fake.script(AUTHOR_MODEL, write, asText({ tool: 'complete', args: { result: 'wrote mul' } }),
      asText({ tool: 'replace_in_file', args: { path: 'src/mul.js', search: 'a + b', replace: 'a * b' } }), asText({ tool: 'complete', args: { result: 'fixed mul' } }));
    // The reviewer takes its time on round 1, so the tree can be seen mid-review.
    fake.script(REVIEWER_MODEL,
      { ...asText({ tool: 'read_file', args: { path: 'src/mul.js' } }), delayMs: 1500 },
      asText({ tool: 'request_changes', args: { summary: 'adds instead of multiplying', findings: 'src/mul.js:1 [blocker] uses + where * is meant' } }),
      asText({ tool: 'approve', args: { summary: 'multiplies now' } }));
    const task = core.tasks.create({ title: 'write mul', assigneeId: author.id });
    await vscode.commands.executeCommand('ai2ai.runTask', node(task));
    assert.equal(core.tasks.get(task.id).status, 'in_review');
    await until('the tree to show the review round and its reviewer', () => /in review · round 1\/3 · @Critic/.test(description(task)), 10_000);
    await until('changes requested', () => core.app.reviews(task.id).length === 1, 30_000);
    await until('the second review to approve it', () => core.tasks.get(task.id).status === 'completed', 60_000);
    assert.deepEqual(core.app.reviews(task.id).map(r => r.verdict), ['request_changes', 'approve']);
    assert.ok(core.tasks.list().filter(t => t.reviewOf === task.id).every(t => t.assigneeId === critic.id));

    await vscode.commands.executeCommand('ai2ai.showTask', node(task));
    await until('the details view', () => !!api.panels.get(task.id), 5000);
    const body = api.panels.get(task.id)!.body;
    assert.match(body, /Round 1: changes requested by Critic/);
    assert.match(body, /severity-blocker">blocker<\/span> <code>src\/mul\.js:1<\/code> uses \+ where \* is meant/);
    assert.match(body, /Round 2: approved by Critic/);
    api.panels.get(task.id)!.panel.dispose();

    // The review diff opens in VS Code's diff view.
    assert.equal(await vscode.commands.executeCommand('ai2ai.showChanges', task.id, 'src/mul.js'), true);
    await until('the diff editor', () => vscode.window.tabGroups.activeTabGroup.activeTab?.input instanceof vscode.TabInputTextDiff, 5000);
    const tab = vscode.window.tabGroups.activeTabGroup.activeTab!.input as vscode.TabInputTextDiff;
    assert.equal((await vscode.workspace.openTextDocument(tab.modified)).getText(), 'module.exports = (a, b) => a * b;\n');
    assert.equal((await vscode.workspace.openTextDocument(tab.original)).getText(), 'module.exports = (a, b) => a + b;\n');
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    core.agents.setEnabled(critic.id, false);
  });

  it('a person approves from the tree, or requests changes with comments', async () => {
    fake.script(AUTHOR_MODEL, asText({ tool: 'complete', args: { result: 'nothing to do' } }), asText({ tool: 'complete', args: { result: 'nothing again' } }),
      asText({ tool: 'complete', args: { result: 'and again' } }));
    const a = core.tasks.create({ title: 'approve me', assigneeId: author.id, reviewRequired: true });
    await vscode.commands.executeCommand('ai2ai.runTask', node(a));
    assert.equal(core.tasks.get(a.id).status, 'in_review');
    assert.match(description(a), /in review · round 1\/3 · no reviewer agent/);
    const approved = await vscode.commands.executeCommand<Task>('ai2ai.approveTask', node(a));
    assert.equal(approved.status, 'completed');
    assert.equal(core.app.reviews(a.id)[0].reviewerName, 'you');

    const b = core.tasks.create({ title: 'change me', assigneeId: author.id, reviewRequired: true });
    await vscode.commands.executeCommand('ai2ai.runTask', node(b));
    const { result } = await runWithAnswers<Task>(api, 'ai2ai.requestChanges', [text('src/x.js:2 name it better')], node(b));
    assert.equal(result.status, 'pending');
    await until('the author to take it again and send it back to review', () => core.tasks.get(b.id).status === 'in_review' && core.tasks.get(b.id).reviewRound === 2, 20_000);
    assert.match(fake.requestsTo('/api/chat').at(-1)!.body.messages[1].content, /you requested changes[\s\S]*src\/x\.js:2: name it better/);
  });
});
