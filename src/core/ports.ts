/**
 * What core needs from its host. The VS Code adapter implements these; tests pass plain objects.
 * Nothing here may name a VS Code type.
 */

export interface Logger {
  trace(message: string, ...args: unknown[]): void;
  debug(message: string, ...args: unknown[]): void;
  info(message: string, ...args: unknown[]): void;
  warn(message: string, ...args: unknown[]): void;
  error(message: string | Error, ...args: unknown[]): void;
}

export const nullLogger: Logger = {
  trace() {},
  debug() {},
  info() {},
  warn() {},
  error() {},
};

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** The folders of the open workspace, as absolute file-system paths. */
export interface WorkspaceFolders {
  folders(): readonly string[];
}
