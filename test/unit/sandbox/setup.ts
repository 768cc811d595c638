/**
 * The command sandbox for tests that run commands. These tests must run for real in CI: when the machine
 * has no working sandbox they fail with what to install, never skip quietly.
 */
import { commandSetup, findBwrap, type CommandSetup, type CommandSetupOptions } from '../../../src/core/sandbox';

export const INSTALL = 'Install bubblewrap (sudo apt-get install bubblewrap; scripts/vscode-install.sh does it) and run the tests again.';

export async function sandboxSetup(opts: Partial<CommandSetupOptions> = {}): Promise<CommandSetup> {
  if (process.platform === 'linux' && !findBwrap()) throw new Error(`bubblewrap (bwrap) is not installed, and the command sandbox tests need it. ${INSTALL}`);
  const setup = await commandSetup({ mode: 'required', network: false, ...opts });
  if (setup.refuse) throw new Error(`The command sandbox tests need a working OS sandbox: ${setup.refuse}`);
  return setup;
}
