// The baseline for AI2AI's activation (docs/performance.md): a hello-world extension whose activate()
// registers one command. It measures itself as src/extension.ts does, from the first statement of activate()
// to just before it returns, and hands the figure back the same way (`activationMs` on the returned API).
// scripts/vscode-run.mjs loads several copies (hello-world-1, -2, …); the command id follows the copy's name.
const vscode = require('vscode');

const command = `ai2aiBench.${require('./package.json').name}`;
let activationMs = 0;

function activate(context) {
  const started = performance.now();
  try {
    const api = {
      get activationMs() {
        return activationMs;
      },
    };
    context.subscriptions.push(vscode.commands.registerCommand(command, () => vscode.window.showInformationMessage('Hello World!')));
    activationMs = performance.now() - started;
    return api;
  } catch (e) {
    void vscode.window.showErrorMessage(`Hello World failed to start: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
}

function deactivate() {}

module.exports = { activate, deactivate };
