import * as assert from 'assert';
import { spawnSync } from 'child_process';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Ai2aiApi } from '../../src/extension';
import type { TaskNode } from '../../src/vscode/trees/tasksTree';
import { activate, until } from './helpers';

describe('another window writing the same database', function () {
  this.timeout(60_000);
  let api: Ai2aiApi;
  before(async () => (api = await activate()));

  it('shows tasks another process adds, live, without a reload', async () => {
    // A second "window": a separate Node process opening the same globalStorage database with the real core.
    const seed = path.join(__dirname, '../e2e/seed.js');
    const ws = vscode.workspace.workspaceFolders![0].uri.fsPath;
    const r = spawnSync(process.execPath, [seed, api.storageDir, ws], { encoding: 'utf8', env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } });
    assert.equal(r.status, 0, r.stderr);
    const titles = () =>
      (api.trees.tasks.getChildren() as TaskNode[])
        .flatMap(g => api.trees.tasks.getChildren(g) as TaskNode[])
        .map(n => (n.kind === 'task' ? n.task.title : ''));
    await until('the other process\'s task in this window\'s tree', () => titles().includes('Document the API'), 10_000);
    const core = await api.ready;
    assert.ok(core.agents.findByName('Ada'), 'and its agent');
  });
});
