/**
 * Every command id the extension contributes. Kept free of `vscode` so a plain unit test can compare
 * it with package.json's `contributes.commands`.
 */
export const COMMAND_IDS = [
  'ai2ai.createAgent',
  'ai2ai.editAgent',
  'ai2ai.deleteAgent',
  'ai2ai.enableAgent',
  'ai2ai.disableAgent',
  'ai2ai.openAgentWorkspace',
  'ai2ai.createTask',
  'ai2ai.editTask',
  'ai2ai.deleteTask',
  'ai2ai.cancelTask',
  'ai2ai.retryTask',
  'ai2ai.assignTask',
  'ai2ai.showTask',
  'ai2ai.runTask',
  'ai2ai.startAgent',
  'ai2ai.addProvider',
  'ai2ai.editProvider',
  'ai2ai.removeProvider',
  'ai2ai.setProviderApiKey',
  'ai2ai.testConnection',
  'ai2ai.listModels',
  'ai2ai.pullModel',
  'ai2ai.refresh',
  'ai2ai.showLog',
  'ai2ai.enableAutoRun',
  'ai2ai.disableAutoRun',
  'ai2ai.approveTask',
  'ai2ai.requestChanges',
  'ai2ai.showChanges',
  'ai2ai.openDashboard',
  'ai2ai.diagnose',
] as const;

export type CommandId = (typeof COMMAND_IDS)[number];
