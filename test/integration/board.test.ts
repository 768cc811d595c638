import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Ai2aiApi } from '../../src/extension';
import type { Agent, Task } from '../../src/core/model/schemas';
import { COMMAND_IDS } from '../../src/vscode/commandIds';
import type { AgentNode } from '../../src/vscode/trees/agentsTree';
import type { TaskNode } from '../../src/vscode/trees/tasksTree';
import { activate, enter, pick, runWithAnswers, text, until } from './helpers';

function workspaceRoot(): string {
  const f = vscode.workspace.workspaceFolders?.[0];
  assert.ok(f, 'a workspace folder is open');
  return f.uri.fsPath;
}

function agentRows(api: Ai2aiApi): Array<{ label: string; description: string }> {
  return (api.trees.agents.getChildren() as AgentNode[]).map(n => {
    const item = api.trees.agents.getTreeItem(n);
    return { label: String(item.label), description: String(item.description) };
  });
}

function taskGroups(api: Ai2aiApi): string[] {
  return (api.trees.tasks.getChildren() as TaskNode[]).map(n => String(api.trees.tasks.getTreeItem(n).label));
}

describe('AI2AI in VS Code', function () {
  this.timeout(60_000);
  let api: Ai2aiApi;

  before(async () => {
    api = await activate();
  });

  it('registers every command of the command table', async () => {
    const all = new Set(await vscode.commands.getCommands(true));
    const missing = COMMAND_IDS.filter(id => !all.has(id));
    assert.deepEqual(missing, []);
  });

  it('keeps its database in globalStorage', async () => {
    assert.ok(api.storageDir.includes('globalStorage'), api.storageDir);
    assert.ok(fs.existsSync(path.join(api.storageDir, 'ai2ai.sqlite')), 'snapshot written at first open');
  });

  let ada: Agent;
  it('creates an agent through the command, validating the name as the user types', async () => {
    const { result, titles } = await runWithAnswers<Agent>(api, 'ai2ai.createAgent', [
      { type: 'text', value: '../evil', expectError: /letters, digits/, thenValue: 'Ada' },
      pick('Developer'),
      text('javascript, testing'),
      enter('Ollama (this machine)'),
      pick('gemma3:1b'),
      pick('agents/ada'),
    ]);
    ada = result;
    assert.ok(ada, 'the command returns the agent');
    assert.equal(ada.name, 'Ada');
    assert.deepEqual(ada.skills, ['javascript', 'testing']);
    assert.equal(ada.model, 'gemma3:1b');
    assert.ok(titles.every(t => t === 'Create Agent'));
    const folder = path.join(workspaceRoot(), 'agents', 'ada');
    for (const sub of ['src', 'tests', 'docs', 'README.md']) assert.ok(fs.existsSync(path.join(folder, sub)), `${sub} exists`);
    await until('the agent in the tree', () => agentRows(api).some(r => r.label === 'Ada'));
    const row = agentRows(api).find(r => r.label === 'Ada')!;
    // No Ollama listens on this machine's default port here: the row says so (it says "ready" where one does).
    assert.match(row.description, /^gemma3:1b · (ready|provider offline)$/);
    assert.ok(fs.statSync(path.join(api.storageDir, 'ai2ai.journal')).size > 0, 'the change is journaled on disk');
  });

  it('refuses a second agent with the same name and stays open for a new one', async () => {
    const { result } = await runWithAnswers<Agent>(api, 'ai2ai.createAgent', [
      { type: 'text', value: 'ada', expectError: /already exists/, thenValue: 'Bea' },
      pick('Reviewer'),
      text('review'),
      enter('Ollama (this machine)'),
      pick('deepseek-coder-v2:16b'),
      pick('agents/bea'),
    ]);
    assert.equal(result.name, 'Bea');
    assert.equal(result.role, 'reviewer');
  });

  it('shows the agent details as children', async () => {
    const node = (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.name === 'Ada')!;
    const children = (api.trees.agents.getChildren(node) as AgentNode[]).map(c => api.trees.agents.getTreeItem(c));
    const byLabel = Object.fromEntries(children.map(c => [String(c.label), String(c.description)]));
    assert.equal(byLabel.Skills, 'javascript, testing');
    assert.equal(byLabel.Folder, 'agents/ada');
    assert.equal(byLabel.Model, 'gemma3:1b on Ollama (this machine)');
  });

  let task: Task;
  it('creates a task through the command and shows it grouped by status', async () => {
    const { result } = await runWithAnswers<Task>(api, 'ai2ai.createTask', [
      text('Write the add function'),
      text('src/add.js exporting add(a, b), with tests'),
      text('javascript'),
      pick('high'),
      { type: 'pickMany', labels: [] },
      pick('Leave unassigned'),
    ]);
    task = result;
    assert.equal(task.status, 'pending');
    assert.equal(task.priority, 2);
    await until('the Pending group', () => taskGroups(api).includes('Pending (1)'));
    await until('the status bar count', () => /0 running · 1 queued/.test(api.status.item.text));
    assert.equal(api.status.item.command, 'ai2ai.openDashboard');
    const group = (api.trees.tasks.getChildren() as TaskNode[]).find(n => n.kind === 'group' && n.status === 'pending')!;
    const item = api.trees.tasks.getTreeItem((api.trees.tasks.getChildren(group) as TaskNode[])[0]);
    assert.equal(item.label, 'Write the add function');
    assert.equal(item.description, 'unassigned · high');
    assert.equal(item.contextValue, 'task.pending');
  });

  it('assigns the task with a quick pick that ranks agents by skills', async () => {
    const node: TaskNode = { kind: 'task', task };
    const { result } = await runWithAnswers<Task>(api, 'ai2ai.assignTask', [pick('Ada')], node);
    assert.equal(result.assigneeId, ada.id);
    await until('the assignee in the tree', () => {
      const group = (api.trees.tasks.getChildren() as TaskNode[]).find(n => n.kind === 'group' && n.status === 'pending');
      const first = group && (api.trees.tasks.getChildren(group) as TaskNode[])[0];
      return !!first && api.trees.tasks.getTreeItem(first).description === '@Ada · high';
    });
  });

  it('edits an agent and a task', async () => {
    const agentNode = (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.name === 'Ada')!;
    const { result: edited } = await runWithAnswers<Agent>(api, 'ai2ai.editAgent', [pick('Model'), pick('deepseek-coder-v2:16b')], agentNode);
    assert.equal(edited.model, 'deepseek-coder-v2:16b');
    const { result: p } = await runWithAnswers<Agent>(api, 'ai2ai.editAgent', [pick('Tool protocol'), pick('text')], agentNode);
    assert.equal(p.settings.toolProtocol, 'text');
    const { result: steps } = await runWithAnswers<Agent>(
      api, 'ai2ai.editAgent', [pick('Max steps'), { type: 'text', value: '0', expectError: />=1|at least|too small/i, thenValue: '12' }], agentNode,
    );
    assert.equal(steps.settings.maxSteps, 12);
    assert.equal(steps.settings.toolProtocol, 'text', 'other settings are kept');
    const { result: t2 } = await runWithAnswers<Task>(api, 'ai2ai.editTask', [pick('Priority'), pick('urgent')], { kind: 'task', task });
    assert.equal(t2.priority, 3);
  });

  it('cancels and retries a task, then deletes it after confirmation', async () => {
    const node: TaskNode = { kind: 'task', task };
    const cancelled = await vscode.commands.executeCommand<Task>('ai2ai.cancelTask', node);
    assert.equal(cancelled.status, 'cancelled');
    await until('the Cancelled group', () => taskGroups(api).includes('Cancelled (1)'));
    const retried = await vscode.commands.executeCommand<Task>('ai2ai.retryTask', node);
    assert.equal(retried.status, 'pending');
    const { result: kept } = await runWithAnswers<boolean>(api, 'ai2ai.deleteTask', [pick('Cancel')], node);
    assert.equal(kept, false);
    const { result: deleted } = await runWithAnswers<boolean>(api, 'ai2ai.deleteTask', [pick('Delete')], node);
    assert.equal(deleted, true);
    await until('the task to leave the tree', () => !taskGroups(api).some(g => g.startsWith('Pending')));
  });

  it('opens the agent workspace with its README', async () => {
    const node = (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.name === 'Ada')!;
    const uri = await vscode.commands.executeCommand<vscode.Uri>('ai2ai.openAgentWorkspace', node);
    assert.equal(uri.fsPath, path.join(workspaceRoot(), 'agents', 'ada'));
    await until('the README editor', () => vscode.window.activeTextEditor?.document.uri.fsPath === path.join(uri.fsPath, 'README.md'));
  });

  it('disables, enables and deletes an agent, keeping its folder', async () => {
    const node = () => (api.trees.agents.getChildren() as AgentNode[]).find(n => n.agent.name === 'Bea')!;
    const disabled = await vscode.commands.executeCommand<Agent>('ai2ai.disableAgent', node());
    assert.equal(disabled.status, 'offline');
    await until('the disabled state in the tree', () => api.trees.agents.getTreeItem(node()).contextValue === 'agent.disabled');
    const enabled = await vscode.commands.executeCommand<Agent>('ai2ai.enableAgent', node());
    assert.equal(enabled.status, 'ready');
    const { result } = await runWithAnswers<boolean>(api, 'ai2ai.deleteAgent', [pick('Delete')], node());
    assert.equal(result, true);
    await until('Bea to leave the tree', () => !agentRows(api).some(r => r.label === 'Bea'));
    assert.ok(fs.existsSync(path.join(workspaceRoot(), 'agents', 'bea', 'README.md')));
  });

  it('batches tree refreshes: a burst of 200 changes repaints a few times, not 200', async () => {
    const core = await api.ready;
    const before = { ...api.trees.tasks.stats };
    const ids = Array.from({ length: 200 }, (_, i) => core.tasks.create({ title: `Burst ${i}` }).id);
    await until('the burst in the tree', () => taskGroups(api).includes('Pending (200)'));
    const requested = api.trees.tasks.stats.requested - before.requested;
    const fired = api.trees.tasks.stats.fired - before.fired;
    assert.ok(requested >= 200, `requested ${requested}`);
    assert.ok(fired <= 5, `fired ${fired} repaints for ${requested} changes`);
    for (const id of ids) core.tasks.delete(id);
  });

  it('shows an error, not a crash, when a command meets bad state', async () => {
    const core = await api.ready;
    const t = core.tasks.create({ title: 'Finished' });
    core.tasks.transition(t.id, 'in_progress');
    core.tasks.transition(t.id, 'completed', { result: 'ok' });
    const r = await vscode.commands.executeCommand('ai2ai.retryTask', { kind: 'task', task: core.tasks.get(t.id) });
    assert.equal(r, undefined, 'the command reports the illegal transition instead of throwing');
    assert.equal(core.tasks.get(t.id).status, 'completed');
  });
});
