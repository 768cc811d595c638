import { complete, fail, reportProgress, sendMessage } from './agentTools';
import { approve, refusedForReviewer, requestChanges } from './reviewTools';
import { ask, createSubtasks } from './teamTools';
import { replaceInFile, searchFiles } from './editTools';
import { deleteFile, listFiles, readFile, writeFile } from './fileTools';
import { runCommandTool, runTestsTool } from './processTools';
import { ToolRegistry } from './registry';
import type { ToolDefinition } from './types';

export const ALL_TOOLS: readonly ToolDefinition[] = [
  listFiles,
  readFile,
  writeFile,
  replaceInFile,
  deleteFile,
  searchFiles,
  runTestsTool,
  runCommandTool,
  reportProgress,
  sendMessage,
  ask,
  createSubtasks,
  complete,
  fail,
];

/** What an author uses: everything but the verdicts. */
export const AUTHOR_TOOLS: readonly ToolDefinition[] = ALL_TOOLS;

/**
 * What a reviewer uses: read, search and run the tests of the author's folder, message, and the two verdicts.
 * Writing tools are there only to refuse with what to do instead.
 */
export function createReviewerRegistry(): ToolRegistry {
  const readOnly = new Set(['list_files', 'read_file', 'search_files', 'run_tests', 'report_progress', 'send_message', 'ask', 'fail']);
  return new ToolRegistry([
    ...ALL_TOOLS.filter(t => readOnly.has(t.name)),
    ...ALL_TOOLS.filter(t => !readOnly.has(t.name)).map(refusedForReviewer),
    approve,
    requestChanges,
  ]);
}

/** A registry with every tool; use `.subset()` for restricted roles. */
export function createToolRegistry(): ToolRegistry {
  return new ToolRegistry(ALL_TOOLS);
}

export { ToolRegistry } from './registry';
export * from './types';
export { runCommand, authorizeCommand, shellWords, formatCommandResult, type Authorization } from './commands';
export { checkAllowlist, isAllowlisted, riskyArguments, type AllowlistVerdict } from './allowlist';
export { parseShellCommand, shellQuote, type ShellParse } from './shell';
export { visibleCommand, approvalText } from './approval';
export { detectTestCommand, resolveTestCommand, parseTestOutput, type DetectedTestCommand, type TestSummary, type TestFramework } from './testing';
export { clipText, CappedBuffer } from './output';
export { closestLine } from './editTools';
