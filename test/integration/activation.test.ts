// Activation reads only dist/extension.js: the parts that some commands need (the agent runner, the
// dashboard's and the task view's renderers, Diagnose, the change diff) load when first used. This file's
// name sorts first, so it runs before any test opens one of them.
import * as assert from 'assert';
import * as path from 'path';
import * as vscode from 'vscode';
import { activate, EXTENSION_ID } from './helpers';

describe('activation', () => {
  it('loads none of the lazily loaded parts, even once the database is open', async () => {
    const api = await activate();
    const dist = path.join(vscode.extensions.getExtension(EXTENSION_ID)!.extensionPath, 'dist') + path.sep;
    const loaded = () => Object.keys(require.cache).filter(f => f.startsWith(dist)).map(f => path.relative(dist, f)).sort();
    assert.deepStrictEqual(loaded(), ['extension.js']);
    // And a part is there to load when its command runs.
    await vscode.commands.executeCommand('ai2ai.openDashboard');
    assert.ok(api.dashboard.visible, 'the dashboard opened');
    assert.deepStrictEqual(loaded(), ['dashboard.js', 'extension.js']);
    await vscode.commands.executeCommand('workbench.action.closeActiveEditor');
  });
});
