/** The one log: a LogOutputChannel behind core's Logger port. */
import * as vscode from 'vscode';
import type { Logger } from '../core/ports';

export class Log implements Logger, vscode.Disposable {
  readonly channel = vscode.window.createOutputChannel('AI2AI', { log: true });

  trace(message: string, ...args: unknown[]): void {
    this.channel.trace(message, ...args);
  }
  debug(message: string, ...args: unknown[]): void {
    this.channel.debug(message, ...args);
  }
  info(message: string, ...args: unknown[]): void {
    this.channel.info(message, ...args);
  }
  warn(message: string, ...args: unknown[]): void {
    this.channel.warn(message, ...args);
  }
  error(message: string | Error, ...args: unknown[]): void {
    this.channel.error(message, ...args);
  }
  show(): void {
    this.channel.show(true);
  }
  dispose(): void {
    this.channel.dispose();
  }
}
