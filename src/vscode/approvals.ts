/** The core's Approvals port in VS Code: a modal dialog before a command off the allowlist runs, and workspace trust. */
import * as vscode from 'vscode';
import type { Approvals } from '../core/loop/runService';

export const vscodeApprovals: Approvals = {
  trusted: () => vscode.workspace.isTrusted,
  approve: async command => {
    const run = 'Run';
    const answer = await vscode.window.showWarningMessage(
      'An AI2AI agent wants to run a command in its folder:',
      { modal: true, detail: `${command}\n\nAdd commands you trust to the setting ai2ai.commands.allowlist to run them without asking.` },
      run,
    );
    return answer === run;
  },
};
