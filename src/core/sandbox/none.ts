/** No OS sandbox: `/bin/sh -c` with the scrubbed environment. Commands then rely on the allowlist and approval alone. */
import type { CommandSandbox, PreparedCommand, SandboxRequest } from './types';

export class NoSandbox implements CommandSandbox {
  readonly kind = 'none';
  readonly confined = false;
  readonly network = true;

  describe(): string {
    return 'no sandbox (the command can read and write anything your user can, and use the network)';
  }

  prepare(req: SandboxRequest): PreparedCommand {
    return { file: '/bin/sh', args: ['-c', req.command], env: req.env, cwd: req.cwd, dispose: () => undefined };
  }
}

export const noSandbox: CommandSandbox = new NoSandbox();
