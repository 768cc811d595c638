import { complete, fail, reportProgress, sendMessage } from './agentTools';
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
  complete,
  fail,
];

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
