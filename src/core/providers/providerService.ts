/**
 * Configured model servers (rows of `providers`) and their clients. API keys never enter the database:
 * they come from the host's secret store (VS Code SecretStorage) through `getApiKey`.
 */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { changed } from '../changes';
import { Emitter } from '../events';
import { AppError } from '../errors';
import { Provider, ProviderKind } from '../model/schemas';
import type { Clock, Logger } from '../ports';
import { providerFromRow } from '../store/rows';
import type { Store } from '../store/types';
import { definedOnly, parseInput } from '../util';
import { createProvider } from './index';
import type { Health, LlmProvider, WatchdogOptions } from './types';

/** How long a model may keep a run waiting: from the host's settings, applied to every client. */
export interface ProviderTimeouts {
  /** From sending a request to the first streamed piece (queue, model load, prompt evaluation). */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two streamed pieces. */
  idleTimeoutMs?: number;
}

export const ProviderInput = z.object({
  kind: ProviderKind,
  name: Provider.shape.name,
  baseUrl: Provider.shape.baseUrl,
  maxConcurrency: Provider.shape.maxConcurrency.default(1),
});
export type ProviderInput = z.input<typeof ProviderInput>;

export interface SecretStore {
  get(key: string): Promise<string | undefined>;
  set(key: string, value: string): Promise<void>;
  delete(key: string): Promise<void>;
}

export const apiKeySecret = (providerId: string) => `ai2ai.provider.${providerId}.apiKey`;

/** The one address of VS Code's own models. */
export const VSCODE_LM_URL = 'vscode://lm';

/** Clients the host provides for kinds the core cannot reach itself (VS Code's models live in the editor). */
export type HostProviders = Partial<Record<'vscode', (p: Provider) => LlmProvider>>;

function checkKindAndUrl(kind: Provider['kind'], baseUrl: string): void {
  const lm = baseUrl.startsWith('vscode:');
  if (kind === 'vscode' && baseUrl.replace(/\/+$/, '') !== VSCODE_LM_URL) throw new AppError('validation', `VS Code's models have the address ${VSCODE_LM_URL}.`);
  if (kind !== 'vscode' && lm) throw new AppError('validation', 'Use an http:// or https:// URL.');
}

export class ProviderService {
  private clients = new Map<string, { url: string; client: LlmProvider }>();
  /** Last health check per provider: the trees show offline providers with the reason. */
  private readonly health = new Map<string, Health & { at: number }>();
  private readonly healthEmitter = new Emitter<string>();
  /** Fires a provider's id when it goes online or offline (or its offline reason changes). */
  readonly onDidChangeHealth = this.healthEmitter.event;

  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly secrets?: SecretStore,
    private readonly timeouts: () => ProviderTimeouts = () => ({}),
    private readonly host: HostProviders = {},
  ) {}

  list(): Provider[] {
    return this.store.read.all('SELECT * FROM providers ORDER BY created_at, name').map(providerFromRow);
  }

  get(id: string): Provider {
    const row = this.store.read.get('SELECT * FROM providers WHERE id = ?', [id]);
    if (!row) throw new AppError('not_found', 'That model provider no longer exists. Choose another one for the agent.', { id });
    return providerFromRow(row);
  }

  create(input: ProviderInput): Provider {
    const d = parseInput(ProviderInput, input);
    checkKindAndUrl(d.kind, d.baseUrl);
    const p: Provider = { id: randomUUID(), ...d, baseUrl: d.baseUrl.replace(/\/+$/, ''), createdAt: this.clock.now() };
    this.store.mutate(tx => {
      tx.run('INSERT INTO providers (id, kind, name, base_url, max_concurrency, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        p.id, p.kind, p.name, p.baseUrl, p.maxConcurrency, p.createdAt,
      ]);
      changed(tx, 'provider', 'created', p.id);
    });
    return p;
  }

  edit(id: string, input: Partial<ProviderInput>): Provider {
    const next = { ...this.get(id), ...definedOnly(parseInput(ProviderInput.partial(), input)) };
    next.baseUrl = next.baseUrl.replace(/\/+$/, '');
    const before = this.get(id);
    checkKindAndUrl(next.kind, next.baseUrl);
    this.store.mutate(tx => {
      tx.run('UPDATE providers SET kind = ?, name = ?, base_url = ?, max_concurrency = ? WHERE id = ?', [next.kind, next.name, next.baseUrl, next.maxConcurrency, id]);
      // Another server (or another kind of server) may well support native tools where this one did not.
      if (before.baseUrl !== next.baseUrl || before.kind !== next.kind) tx.run('DELETE FROM model_tool_support WHERE provider_id = ?', [id]);
      changed(tx, 'provider', 'updated', id);
    });
    this.clients.delete(id);
    return next;
  }

  delete(id: string): void {
    const p = this.get(id);
    this.store.mutate(tx => {
      const user = tx.get<{ name: string }>('SELECT name FROM agents WHERE provider_id = ? LIMIT 1', [id]);
      if (user) throw new AppError('conflict', `Agent "${user.name}" uses ${p.name}. Move it to another provider first.`);
      tx.run('DELETE FROM providers WHERE id = ?', [id]);
      changed(tx, 'provider', 'deleted', id);
    });
    this.clients.delete(id);
    void this.secrets?.delete(apiKeySecret(id));
  }

  async setApiKey(id: string, key: string | undefined): Promise<void> {
    if (!this.secrets) throw new AppError('internal', 'No secret store is available to keep the API key.');
    if (key) await this.secrets.set(apiKeySecret(id), key);
    else await this.secrets.delete(apiKeySecret(id));
  }

  /** The client for a provider; rebuilt when its URL or the timeout settings change. */
  client(id: string): LlmProvider {
    const p = this.get(id);
    const t: WatchdogOptions = definedOnly({ firstTokenTimeoutMs: this.timeouts().firstTokenTimeoutMs, idleTimeoutMs: this.timeouts().idleTimeoutMs });
    const key = `${p.kind}:${p.baseUrl}:${t.firstTokenTimeoutMs ?? ''}:${t.idleTimeoutMs ?? ''}`;
    const cached = this.clients.get(id);
    if (cached && cached.url === key) return cached.client;
    if (p.kind === 'vscode') {
      const make = this.host.vscode;
      if (!make) throw new AppError('validation', `${p.name} serves VS Code's own models, which only an AI2AI running inside VS Code can use.`);
      const client = make(p);
      this.clients.set(id, { url: key, client });
      return client;
    }
    const client = createProvider(
      { kind: p.kind, baseUrl: p.baseUrl, ...t },
      { logger: this.log, getApiKey: this.secrets ? () => this.secrets!.get(apiKeySecret(id)) : undefined },
    );
    this.clients.set(id, { url: key, client });
    return client;
  }

  /**
   * Whether a model takes native tool calls on this provider, as far as a run has found out: `false` once it
   * answered "does not support tools", so later runs start with the text protocol; undefined when unknown.
   */
  nativeTools(providerId: string, model: string): boolean | undefined {
    const row = this.store.read.get<{ native_tools: number }>('SELECT native_tools FROM model_tool_support WHERE provider_id = ? AND model = ?', [providerId, model]);
    return row ? row.native_tools === 1 : undefined;
  }

  /** Remembers what a run found out about a model's native tool calls on this provider. */
  noteNativeTools(providerId: string, model: string, supported: boolean, reason?: string): void {
    if (this.nativeTools(providerId, model) === supported) return;
    this.store.mutate(tx => {
      if (!tx.get('SELECT 1 AS x FROM providers WHERE id = ?', [providerId])) return; // deleted meanwhile
      tx.run('INSERT OR REPLACE INTO model_tool_support (provider_id, model, native_tools, reason, noted_at) VALUES (?, ?, ?, ?, ?)', [
        providerId, model, supported ? 1 : 0, reason ?? null, this.clock.now(),
      ]);
      changed(tx, 'provider', 'updated', providerId);
    });
  }

  async check(id: string, signal: AbortSignal): Promise<Health> {
    const h = await this.client(id).health(signal);
    this.setHealth(id, h);
    return h;
  }

  /** Health is runtime state, not stored: it has its own event. */
  setHealth(id: string, h: Health): void {
    const before = this.health.get(id);
    this.health.set(id, { ...h, at: this.clock.now() });
    if (!before || before.ok !== h.ok || (!h.ok && !before.ok && before.reason !== h.reason)) this.healthEmitter.fire(id);
  }

  lastHealth(id: string): (Health & { at: number }) | undefined {
    return this.health.get(id);
  }
}
