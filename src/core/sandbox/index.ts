export type { CommandSandbox, CommandSetup, PreparedCommand, SandboxMode, SandboxRequest } from './types';
export { SANDBOX_MODES } from './types';
export { commandEnv } from './env';
export { BwrapSandbox, bwrapArgs, homeToolchains, HOME_SECRETS, HOME_TOOLCHAINS, type BwrapOptions } from './bwrap';
export { SandboxExecSandbox, sandboxExecArgs, sandboxExecProfile, type SandboxExecOptions } from './macos';
export { NoSandbox, noSandbox } from './none';
export { commandSetup, detectSandbox, findBwrap, type CommandSetupOptions, type SandboxAvailability } from './detect';
