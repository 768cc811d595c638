/**
 * What the scheduler knows of each model server: online or not (re-checked with backoff while offline, so
 * its queue pauses and resumes by itself), the models it serves and the ones loaded now (`/api/ps`).
 */
import { errorMessage } from '../errors';
import { Emitter, type Disposable } from '../events';
import type { Clock, Logger } from '../ports';
import type { ProviderService } from '../providers/providerService';
import type { ProviderView } from './plan';

interface State {
  online?: boolean;
  reason?: string;
  models?: Set<string>;
  loaded?: Set<string>;
  failures: number;
  nextAt: number;
  inFlight?: Promise<void>;
}

export const MONITOR = { recheckOnlineMs: 30_000, firstBackoffMs: 2_000, maxBackoffMs: 60_000, timeoutMs: 5_000 };

export class ProviderMonitor implements Disposable {
  private readonly state = new Map<string, State>();
  private readonly emitter = new Emitter<string>();
  private disposed = false;
  /** Fires a provider id when what is known of it changed (online, models, loaded). */
  readonly onDidChange = this.emitter.event;

  constructor(
    private readonly providers: ProviderService,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  views(): Map<string, ProviderView> {
    const out = new Map<string, ProviderView>();
    for (const p of this.providers.list()) {
      const s = this.state.get(p.id);
      out.set(p.id, { provider: p, online: s?.online, offlineReason: s?.reason, models: s?.models, loaded: s?.loaded });
    }
    return out;
  }

  isOffline(id: string): boolean {
    return this.state.get(id)?.online === false;
  }

  /** Whether any provider is known to be offline (it is re-checked with backoff until it is back). */
  hasOffline(): boolean {
    return this.providers.list().some(p => this.state.get(p.id)?.online === false);
  }

  /** Checks every provider whose time has come; resolves when those checks end. */
  async refreshDue(): Promise<void> {
    const now = this.clock.now();
    const due = this.providers.list().filter(p => {
      const s = this.state.get(p.id);
      return !s || (!s.inFlight && s.nextAt <= now);
    });
    await Promise.all(due.map(p => this.refresh(p.id)));
  }

  /** Checks one provider now (joins a check already running). */
  refresh(id: string): Promise<void> {
    const s = this.get(id);
    if (s.inFlight) return s.inFlight;
    s.inFlight = this.check(id, s).finally(() => (s.inFlight = undefined));
    return s.inFlight;
  }

  /** A run met a connection failure: pause the provider's queue until a check finds it again. */
  markOffline(id: string, reason: string): void {
    const s = this.get(id);
    const was = s.online;
    s.online = false;
    s.reason = reason;
    s.failures = Math.max(1, s.failures);
    s.nextAt = this.clock.now() + MONITOR.firstBackoffMs;
    this.providers.setHealth(id, { ok: false, reason });
    if (was !== false) this.fire(id);
  }

  /** A run started on it: the model is loaded now (until its keep_alive lapses; the next check corrects it). */
  markLoaded(id: string, model: string): void {
    const s = this.get(id);
    if (s.loaded?.has(model)) return;
    (s.loaded ??= new Set()).add(model);
    this.fire(id);
  }

  private get(id: string): State {
    let s = this.state.get(id);
    if (!s) this.state.set(id, (s = { failures: 0, nextAt: 0 }));
    return s;
  }

  private async check(id: string, s: State): Promise<void> {
    if (this.disposed) return;
    const before = JSON.stringify([s.online, s.reason, [...(s.models ?? [])], [...(s.loaded ?? [])]]);
    try {
      const client = this.providers.client(id);
      const signal = AbortSignal.timeout(MONITOR.timeoutMs);
      const h = await client.health(signal);
      if (h.ok) {
        s.online = true;
        s.reason = undefined;
        s.failures = 0;
        s.nextAt = this.clock.now() + MONITOR.recheckOnlineMs;
        try {
          s.models = new Set((await client.listModels(signal)).map(m => m.name));
        } catch (e) {
          this.log.debug(`[scheduler] could not list models of ${id}: ${errorMessage(e)}`);
        }
        const ps = (client as { loadedModels?: (sig: AbortSignal) => Promise<Array<{ name: string }>> }).loadedModels;
        if (ps) {
          try {
            s.loaded = new Set((await ps.call(client, signal)).map(m => m.name));
          } catch (e) {
            this.log.debug(`[scheduler] could not read loaded models of ${id}: ${errorMessage(e)}`);
          }
        }
      } else {
        this.fail(s, h.reason);
      }
      this.providers.setHealth(id, h);
    } catch (e) {
      this.fail(s, errorMessage(e));
    }
    if (JSON.stringify([s.online, s.reason, [...(s.models ?? [])], [...(s.loaded ?? [])]]) !== before) this.fire(id);
  }

  private fail(s: State, reason: string): void {
    s.online = false;
    s.reason = reason;
    s.failures++;
    s.nextAt = this.clock.now() + Math.min(MONITOR.maxBackoffMs, MONITOR.firstBackoffMs * 2 ** (s.failures - 1));
  }

  private fire(id: string): void {
    if (!this.disposed) this.emitter.fire(id, e => this.log.error('[scheduler] provider listener failed', e));
  }

  dispose(): void {
    this.disposed = true;
    this.emitter.dispose();
  }
}
