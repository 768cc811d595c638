/**
 * The command sandbox for this window: built from `ai2ai.commands.sandbox` / `.network` and what the
 * machine offers (probed once), with the extension's storage hidden from every command. When commands
 * run unconfined (no sandbox here, or the setting is off) the user hears it once, in the log, the status
 * bar and, at the first run, a notification.
 */
import * as vscode from 'vscode';
import type { Logger } from '../core/ports';
import { commandSetup, type CommandSetup } from '../core/sandbox';
import type { Config } from './config';

export class CommandSandboxes implements vscode.Disposable {
  private current: { key: string; setup: Promise<CommandSetup> } | undefined;
  private readonly said = new Set<string>();
  private readonly sub: vscode.Disposable;

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
    private readonly storageDir: string,
    private readonly onNotice: (notice: string | undefined) => void = () => undefined,
  ) {
    this.sub = config.onDidChange(() => void this.setup().catch(() => undefined));
  }

  /** The setup for the current settings; `announce` also shows an unconfined notice once as a notification. */
  setup(announce = false): Promise<CommandSetup> {
    const { sandbox: mode, network } = this.config.settings.commands;
    const key = `${mode}:${network}`;
    if (this.current?.key !== key) {
      const setup = commandSetup({ mode, network, hide: [this.storageDir] });
      this.current = { key, setup };
      void setup.then(
        s => {
          this.log.info(`[commands] ${s.sandbox.describe()} (ai2ai.commands.sandbox: ${mode})`);
          const notice = s.refuse ?? s.notice;
          if (notice) this.log.warn(`[commands] ${notice}`);
          this.onNotice(notice);
        },
        e => this.log.error(`[commands] could not set up the command sandbox: ${e instanceof Error ? e.message : String(e)}`),
      );
    }
    const setup = this.current.setup;
    if (announce) {
      void setup.then(s => {
        const notice = s.refuse ?? s.notice;
        if (!notice || this.said.has(notice)) return;
        this.said.add(notice);
        const open = 'Open Settings';
        void vscode.window.showWarningMessage(`AI2AI: ${notice}`, open).then(a => a && vscode.commands.executeCommand('workbench.action.openSettings', 'ai2ai.commands'));
      });
    }
    return setup;
  }

  dispose(): void {
    this.sub.dispose();
  }
}
