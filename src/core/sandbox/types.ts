/**
 * The command sandbox port: how a shell command line becomes a confined process. The command runner asks
 * a `CommandSandbox` to `prepare` each command and spawns what it returns; the implementations are
 * bubblewrap on Linux (`bwrap.ts`), `sandbox-exec` on macOS (`macos.ts`) and `none` (`none.ts`), chosen by
 * `commandSetup` (`detect.ts`) from the `ai2ai.commands.sandbox` setting and what the machine offers.
 */

/** `auto`: sandboxed where available, else every command asks. `required`: no sandbox, no command. `off`: allowlist only. */
export type SandboxMode = 'auto' | 'required' | 'off';

export const SANDBOX_MODES: readonly SandboxMode[] = ['auto', 'required', 'off'];

export interface SandboxRequest {
  /** The command line, run by `/bin/sh -c`. */
  command: string;
  /** The agent's folder: the working directory and, with the private temp folder, the only writable place. */
  cwd: string;
  /** The scrubbed environment (see `commandEnv`); HOME and TMPDIR are replaced by private ones. */
  env: Record<string, string>;
  /** Folders that stay readable even where the sandbox hides their parent (the open workspace folders). */
  readable?: readonly string[];
}

export interface PreparedCommand {
  file: string;
  args: string[];
  env: Record<string, string>;
  cwd: string;
  /** Removes the private temp folder; call once the process has exited. */
  dispose(): void;
}

export interface CommandSandbox {
  readonly kind: 'bwrap' | 'sandbox-exec' | 'none';
  /**
   * True when commands are confined: writes only in the agent's folder and a private temp folder, no
   * network unless allowed, secrets hidden. False for `none`.
   */
  readonly confined: boolean;
  readonly network: boolean;
  /** One line for the log and the approval dialog. */
  describe(): string;
  prepare(req: SandboxRequest): PreparedCommand;
}

/** What the tools need to know about commands in this window: the sandbox, the mode, and what to tell the user. */
export interface CommandSetup {
  mode: SandboxMode;
  sandbox: CommandSandbox;
  /** Set when no command may run at all (mode `required` without a sandbox): the message for the model and user. */
  refuse?: string;
  /** Set when the user should hear about the sandbox once (none available, or turned off). */
  notice?: string;
}
