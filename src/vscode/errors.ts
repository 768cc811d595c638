/** How errors reach the user: what happened and what to do, with "Show Log" for the details. Never a stack trace. */
import * as vscode from 'vscode';
import { AppError, errorMessage } from '../core/errors';
import type { Logger } from '../core/ports';

const EXPECTED = new Set(['validation', 'not_found', 'conflict', 'illegal_transition', 'workspace', 'path_escape']);

export async function showError(e: unknown, log: Logger & { show(): void }, context?: string): Promise<void> {
  const where = context ? `${context}: ` : '';
  if (AppError.is(e) && EXPECTED.has(e.reason)) {
    log.warn(`${where}${e.message}`);
    await vscode.window.showWarningMessage(`AI2AI: ${e.message}`);
    return;
  }
  log.error(e instanceof Error ? e : new Error(String(e)));
  const action = await vscode.window.showErrorMessage(`AI2AI: ${where}${errorMessage(e)}`, 'Show Log');
  if (action) log.show();
}
