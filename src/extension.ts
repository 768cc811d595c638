import * as vscode from 'vscode';
import { App, type Ai2aiApi } from './vscode/app';

export type { Ai2aiApi };

/** Builds the one App object and hands back its API. Everything slow happens after this returns. */
let current: App | undefined;

export function activate(context: vscode.ExtensionContext): Ai2aiApi {
  const started = performance.now();
  try {
    const app = (current = new App(context));
    context.subscriptions.push(app);
    app.activationMs = performance.now() - started;
    return app.api;
  } catch (e) {
    void vscode.window.showErrorMessage(`AI2AI failed to start: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
}

/** VS Code waits for this promise: running tasks are stopped and recorded before the database closes. */
export function deactivate(): Promise<void> | undefined {
  const app = current;
  current = undefined;
  return app?.close();
}
