// Smoke test: the extension activates inside a real VS Code extension host with a workspace folder open.
import * as assert from 'assert';
import * as fs from 'fs';
import * as path from 'path';
import * as vscode from 'vscode';

const EXTENSION_ID = 'ai2ai.ai2ai'; // <publisher>.<name> from package.json

describe('smoke', () => {
  it('activates the extension', async () => {
    const ext = vscode.extensions.getExtension(EXTENSION_ID);
    assert.ok(ext, `extension ${EXTENSION_ID} is not loaded in this VS Code`);
    await ext.activate();
    assert.strictEqual(ext.isActive, true);
  });

  it('runs in a Node extension host', () => {
    assert.strictEqual(typeof process.versions.node, 'string');
    console.log(`VS Code ${vscode.version}, node ${process.versions.node}, remoteName=${vscode.env.remoteName}, uiKind=${vscode.UIKind[vscode.env.uiKind]}`);
  });

  it('has a workspace folder open', () => {
    const folders = vscode.workspace.workspaceFolders ?? [];
    assert.strictEqual(folders.length, 1, `expected 1 workspace folder, got ${folders.length}`);
    // the driver opens a copy of sample-workspace/
    const pkg = path.join(folders[0].uri.fsPath, 'package.json');
    assert.ok(fs.existsSync(pkg), `${pkg} does not exist (scheme ${folders[0].uri.scheme})`);
  });
});
