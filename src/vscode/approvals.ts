/**
 * The core's Approvals port in VS Code: a modal dialog before a command that asks runs (showing exactly what
 * runs: control, bidi and zero-width characters made visible, why it asks and where it would run), workspace
 * trust, and the command sandbox of this window.
 */
import * as vscode from 'vscode';
import type { Approvals } from '../core/loop/runService';
import { approvalText } from '../core/tools/approval';
import type { CommandSandboxes } from './commandSandbox';

export function vscodeApprovals(sandboxes: CommandSandboxes): Approvals {
  return {
    trusted: () => vscode.workspace.isTrusted,
    commands: () => sandboxes.setup(true),
    approve: async (command, request) => {
      const run = 'Run';
      const text = approvalText(command, request);
      const answer = await vscode.window.showWarningMessage(text.message, { modal: true, detail: text.detail }, run);
      return answer === run;
    },
  };
}
