/** Settings under `ai2ai.*`, read in one typed place and parsed with zod (a bad value falls back to its default, with a warning). */
import * as vscode from 'vscode';
import * as z from 'zod';
import type { CoreSettings } from '../core';
import type { LoopBudgets } from '../core/loop/agentLoop';
import type { Logger } from '../core/ports';
import { SANDBOX_MODES, type SandboxMode } from '../core/sandbox';

const DEFAULT_ALLOWLIST = ['npm test', 'npm run test', 'node --test', 'pytest', 'python -m pytest', 'go test', 'cargo test'];

const Settings = z.object({
  workspace: z.object({ agentsRoot: z.string().trim().min(1).catch('agents') }),
  storage: z.object({
    durableWrites: z.boolean().catch(false),
    compactAfterKB: z.number().min(64).catch(4096),
  }),
  commands: z.object({
    allowlist: z.array(z.string().trim().min(1)).catch(DEFAULT_ALLOWLIST),
    sandbox: z.enum(SANDBOX_MODES as [SandboxMode, ...SandboxMode[]]).catch('auto'),
    network: z.boolean().catch(false),
  }),
  models: z.object({
    firstTokenTimeoutSeconds: z.number().min(5).catch(600),
    idleTimeoutSeconds: z.number().min(5).catch(120),
  }),
  agent: z.object({
    maxSteps: z.number().int().min(1).max(500).catch(40),
    timeBudgetMinutes: z.number().min(0.1).catch(30),
    tokenBudget: z.number().int().min(1000).catch(400_000),
  }),
  changes: z.object({ applyOnApproval: z.boolean().catch(false) }),
  review: z.object({
    required: z.enum(['auto', 'always', 'never']).catch('auto'),
    maxRounds: z.number().int().min(1).max(10).catch(3),
  }),
  notifications: z.object({ show: z.enum(['all', 'failures', 'none']).catch('all') }),
  scheduler: z.object({
    autoRun: z.boolean().catch(false),
    maxAttempts: z.number().int().min(1).max(20).catch(3),
    leaseSeconds: z.number().int().min(5).max(600).catch(30),
  }),
  api: z.object({
    enabled: z.boolean().catch(false),
    port: z.number().int().min(1024).max(65535).catch(7341),
  }),
  codeLens: z.object({
    enabled: z.boolean().catch(true),
    languages: z.array(z.string().trim().min(1)).catch(['*']),
    include: z.array(z.string().trim().min(1)).catch(['**/*']),
  }),
});
type Settings = z.infer<typeof Settings>;

/** Settings that only take effect when the extension starts again (the store reads them at open). */
export const RESTART_SETTINGS = ['ai2ai.storage.durableWrites', 'ai2ai.storage.compactAfterKB'] as const;

/**
 * A setting's user (or remote machine) value, else its default, never a workspace's. The command
 * settings are machine-scoped in package.json, which VS Code enforces; reading them this way keeps a
 * workspace's .vscode/settings.json from widening the allowlist or turning the sandbox off even if it
 * did not.
 */
function userValue(c: vscode.WorkspaceConfiguration, key: string): unknown {
  const v = c.inspect(key);
  return v?.globalValue ?? v?.defaultValue;
}

export class Config implements vscode.Disposable {
  private cached: Settings | undefined;
  private readonly emitter = new vscode.EventEmitter<void>();
  readonly onDidChange = this.emitter.event;
  private readonly sub: vscode.Disposable;

  constructor(private readonly log: Logger) {
    this.sub = vscode.workspace.onDidChangeConfiguration(e => {
      if (!e.affectsConfiguration('ai2ai')) return;
      this.cached = undefined;
      this.emitter.fire();
      const restart = RESTART_SETTINGS.filter(s => e.affectsConfiguration(s));
      if (restart.length) {
        void vscode.window
          .showInformationMessage(`AI2AI: ${restart.join(', ')} takes effect after a reload.`, 'Reload Window')
          .then(a => a && vscode.commands.executeCommand('workbench.action.reloadWindow'));
      }
    });
  }

  get settings(): Settings {
    if (!this.cached) {
      const c = vscode.workspace.getConfiguration('ai2ai');
      const raw = {
        workspace: { agentsRoot: c.get('workspace.agentsRoot') },
        storage: { durableWrites: c.get('storage.durableWrites'), compactAfterKB: c.get('storage.compactAfterKB') },
        commands: { allowlist: userValue(c, 'commands.allowlist'), sandbox: userValue(c, 'commands.sandbox'), network: userValue(c, 'commands.network') },
        models: { firstTokenTimeoutSeconds: c.get('models.firstTokenTimeoutSeconds'), idleTimeoutSeconds: c.get('models.idleTimeoutSeconds') },
        agent: { maxSteps: c.get('agent.maxSteps'), timeBudgetMinutes: c.get('agent.timeBudgetMinutes'), tokenBudget: c.get('agent.tokenBudget') },
        review: { required: c.get('review.required'), maxRounds: c.get('review.maxRounds') },
        changes: { applyOnApproval: c.get('changes.applyOnApproval') },
        notifications: { show: c.get('notifications.show') },
        scheduler: { autoRun: c.get('scheduler.autoRun'), maxAttempts: c.get('scheduler.maxAttempts'), leaseSeconds: c.get('scheduler.leaseSeconds') },
        api: { enabled: c.get('api.enabled'), port: c.get('api.port') },
        codeLens: { enabled: c.get('codeLens.enabled'), languages: c.get('codeLens.languages'), include: c.get('codeLens.include') },
      };
      this.cached = Settings.parse(raw);
      if (JSON.stringify(this.cached) !== JSON.stringify(raw)) this.log.warn('Some ai2ai.* settings were invalid and use their defaults instead.');
    }
    return this.cached;
  }

  /** Everything the core reads from settings, in its own terms: it asks for them, no front end passes them per call. */
  core(): CoreSettings {
    const s = this.settings;
    return {
      agentsRoot: s.workspace.agentsRoot,
      durableWrites: s.storage.durableWrites,
      compactAfterBytes: s.storage.compactAfterKB * 1024,
      budgets: this.budgets(),
      allowlist: s.commands.allowlist,
      scheduler: { autoRun: s.scheduler.autoRun, maxAttempts: s.scheduler.maxAttempts, leaseMs: s.scheduler.leaseSeconds * 1000 },
      review: s.review,
      applyChangesOnApproval: s.changes.applyOnApproval,
      // The providers read these per request (a change rebuilds their clients); the messages name the settings.
      providers: { firstTokenTimeoutMs: s.models.firstTokenTimeoutSeconds * 1000, idleTimeoutMs: s.models.idleTimeoutSeconds * 1000 },
    };
  }

  /** The run budgets from settings (an agent's own max steps still wins). */
  private budgets(): Partial<LoopBudgets> {
    const a = this.settings.agent;
    return { maxSteps: a.maxSteps, maxWallMs: a.timeBudgetMinutes * 60_000, maxTokens: a.tokenBudget };
  }

  /** Turns auto-run on or off for the user (every window follows the setting). */
  setAutoRun(on: boolean): Thenable<void> {
    return vscode.workspace.getConfiguration('ai2ai').update('scheduler.autoRun', on, vscode.ConfigurationTarget.Global);
  }

  dispose(): void {
    this.sub.dispose();
    this.emitter.dispose();
  }
}
