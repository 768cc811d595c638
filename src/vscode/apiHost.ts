/**
 * The local API in VS Code: off unless `ai2ai.api.enabled`; then the server (dist/api.js, loaded only now,
 * so a window that does not use it pays nothing) listens on 127.0.0.1:`ai2ai.api.port` with a token made on
 * first start and kept in SecretStorage. It follows the settings (on, off, another port) and registers
 * itself as an MCP server where the running VS Code can take one (`lm.registerMcpServerDefinitionProvider`,
 * VS Code 1.101 and later); older versions show how to add it by hand (README).
 */
import * as vscode from 'vscode';
import type { ApiServer, ApiServerOptions } from '../api';
import type { Core } from '../core';
import { errorMessage } from '../core/errors';
import type { Config } from './config';
import type { Log } from './log';

export const TOKEN_SECRET = 'ai2ai.api.token';
const MCP_PROVIDER_ID = 'ai2ai.mcp';

type ApiModule = { startApiServer(o: ApiServerOptions): Promise<ApiServer>; newToken(): string };

/** What VS Code 1.101+ has and 1.100's typings do not: declared here, detected at run time. */
interface McpLm {
  registerMcpServerDefinitionProvider?(
    id: string,
    provider: { onDidChangeMcpServerDefinitions?: vscode.Event<void>; provideMcpServerDefinitions(): unknown[] },
  ): vscode.Disposable;
}
type McpHttpCtor = new (label: string, uri: vscode.Uri, headers?: Record<string, string>, version?: string) => unknown;

export class ApiHost implements vscode.Disposable {
  private server: ApiServer | undefined;
  private token: string | undefined;
  private core: Core | undefined;
  private chain: Promise<void> = Promise.resolve();
  private readonly subs: vscode.Disposable[] = [];
  private readonly mcpChanged = new vscode.EventEmitter<void>();
  private disposed = false;
  /** Whether this VS Code took the MCP server definition provider. */
  readonly mcpRegistered: boolean;

  constructor(
    private readonly context: vscode.ExtensionContext,
    private readonly config: Config,
    private readonly log: Log,
  ) {
    this.subs.push(config.onDidChange(() => this.sync()), this.mcpChanged);
    this.mcpRegistered = this.registerMcp();
  }

  attach(core: Core): void {
    this.core = core;
    this.sync();
  }

  get url(): string | undefined {
    return this.server?.url;
  }

  /** The token, made and stored on first use. */
  async getToken(): Promise<string> {
    if (this.token) return this.token;
    let t = await this.context.secrets.get(TOKEN_SECRET);
    if (!t) {
      t = this.load().newToken();
      await this.context.secrets.store(TOKEN_SECRET, t);
    }
    return (this.token = t);
  }

  /** Starts, stops or moves the server to match the settings; one change at a time. */
  sync(): Promise<void> {
    this.chain = this.chain.then(() => this.apply()).catch(e => {
      this.log.error(`[api] ${errorMessage(e)}`);
      void vscode.window.showErrorMessage(`AI2AI: the local API could not start: ${errorMessage(e)}`, 'Show Log').then(a => a && this.log.show());
    });
    return this.chain;
  }

  private async apply(): Promise<void> {
    const want = this.disposed || !this.core ? undefined : this.config.settings.api;
    const running = this.server;
    if (running && want?.enabled && running.port === want.port) return;
    if (running) {
      this.server = undefined;
      await running.close();
      this.log.info('[api] stopped');
      this.mcpChanged.fire();
    }
    if (!want?.enabled || !this.core) return;
    const token = await this.getToken();
    const api = this.load();
    this.server = await api.startApiServer({
      core: this.core,
      token: () => this.token ?? token,
      port: want.port,
      log: this.log,
      version: String(this.context.extension.packageJSON.version ?? '0.0.0'),
    });
    this.log.info(`[api] AI2AI API on ${this.server.url} (token: "AI2AI: Copy API Token")`);
    this.mcpChanged.fire();
  }

  private load(): ApiModule {
    // Not bundled into extension.js: the API, ws and the MCP SDK load only when the API is used.
    return require(this.context.asAbsolutePath('dist/api.js')) as ApiModule; // eslint-disable-line @typescript-eslint/no-require-imports
  }

  private registerMcp(): boolean {
    const lm = vscode.lm as unknown as McpLm;
    const McpHttp = (vscode as unknown as { McpHttpServerDefinition?: McpHttpCtor }).McpHttpServerDefinition;
    if (typeof lm.registerMcpServerDefinitionProvider !== 'function' || typeof McpHttp !== 'function') return false;
    try {
      this.subs.push(
        lm.registerMcpServerDefinitionProvider(MCP_PROVIDER_ID, {
          onDidChangeMcpServerDefinitions: this.mcpChanged.event,
          provideMcpServerDefinitions: () =>
            this.server && this.token
              ? [new McpHttp('AI2AI team', vscode.Uri.parse(`${this.server.url}/mcp`), { Authorization: `Bearer ${this.token}` }, String(this.context.extension.packageJSON.version ?? ''))]
              : [],
        }),
      );
      return true;
    } catch (e) {
      this.log.warn(`[api] could not register the MCP server with VS Code: ${errorMessage(e)}`);
      return false;
    }
  }

  /** Copies the token; says where the API is, or that it is off. */
  async copyToken(): Promise<string> {
    const token = await this.getToken();
    await vscode.env.clipboard.writeText(token);
    const where = this.server ? `The API is on ${this.server.url}.` : 'The API is off: turn on the setting ai2ai.api.enabled to use it.';
    void vscode.window.showInformationMessage(`AI2AI: API token copied. ${where}`);
    return token;
  }

  dispose(): void {
    this.disposed = true;
    this.subs.forEach(s => s.dispose());
    const s = this.server;
    this.server = undefined;
    void s?.close();
  }

  /** For deactivate: waits until the server has closed, so no request reaches a closing core. */
  async close(): Promise<void> {
    const s = this.server;
    this.dispose();
    await this.chain.catch(() => undefined);
    await s?.close();
  }
}
