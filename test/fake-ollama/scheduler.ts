/**
 * The fake's model scheduler, after Ollama's server/sched.go: which models are loaded (/api/ps), loading one
 * (a delay before any header), unloading one when keep_alive expires or to make room, and each loaded
 * model's slots (OLLAMA_NUM_PARALLEL), which hold the prompt caches (see promptCache.ts).
 *
 * - Requests that need a model to be loaded or swapped in wait in one FIFO. While the head of it waits for a
 *   model to unload, every later request waits too, even one for a model that is loaded (sched.go says so).
 * - A request for a loaded model is handed it at once and then waits for one of its slots.
 * - A model is unloaded to make room when OLLAMA_MAX_LOADED_MODELS are loaded, or when the new one does not
 *   fit in `memoryBytes` beside them. The one unloaded is the first idle model in the order of shortest
 *   keep_alive, then name (sched.go's findRunnerToUnload); with none idle, the first in that order, once its
 *   requests finish.
 * - A model loaded with a different num_ctx is unloaded (when idle) and loaded again.
 * - keep_alive: each request sets the model's session duration; one that sends none keeps the previous one
 *   (the server default when the model is loaded). The countdown starts when the model goes idle; 0 unloads
 *   it then.
 */
import type { FakeModelSpec, LoadedModel } from './catalog';
import { CacheSlot, emptySlots } from './promptCache';
import { sleep } from './script';

export interface SchedulerOptions {
  numParallel: number;
  maxLoadedModels: number;
  memoryBytes: number;
  loadMs: number;
  timeScale: number;
  keepAliveScale: number;
  defaultKeepAliveMs: number;
}

/** What the scheduler reports to the fake's counters. */
export interface SchedulerEvents {
  loaded(key: string, reload: boolean): void;
  unloaded(key: string, evicted: boolean): void;
}

export interface RunnerRequest {
  /** The model's normalized name. */
  key: string;
  spec: FakeModelSpec;
  numCtx: number;
  /** keep_alive in ms (Infinity: forever); undefined when the request sent none. */
  keepAliveMs?: number;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

/** A loaded (or loading) model. */
export class Runner {
  readonly slots: CacheSlot[];
  /** Requests handed this model that have not finished (loading, waiting for a slot, or generating). */
  refCount = 0;
  loading = true;
  /** Session duration (keep_alive) in real ms before keepAliveScale; Infinity: forever. */
  sessionMs: number;
  /** Epoch ms when it unloads if it stays idle; 0 while busy or before its first request ends. */
  expiresAt = 0;
  /** Set once the scheduler has decided to unload it (to make room, or because num_ctx changed). */
  victim?: 'evict' | 'reload';
  gone = false;
  timer?: NodeJS.Timeout;
  readonly ready: Promise<void>;
  readonly unloaded: Promise<void>;
  private markUnloaded!: () => void;
  private readonly loadCtl = new AbortController();
  private permits: number;
  private waiters: Array<() => void> = [];

  constructor(
    readonly key: string,
    readonly spec: FakeModelSpec,
    readonly numCtx: number,
    numParallel: number,
    sessionMs: number,
    /** Simulated load time (ms, unscaled), reported as load_duration to the requests that waited for it. */
    readonly loadSimMs: number,
    realLoadMs: number,
  ) {
    this.slots = emptySlots(numParallel);
    this.permits = this.slots.length;
    this.sessionMs = sessionMs;
    this.unloaded = new Promise(resolve => (this.markUnloaded = resolve));
    this.ready = sleep(realLoadMs, this.loadCtl.signal).then(() => {
      this.loading = false;
    });
    this.ready.catch(() => undefined);
  }

  /** Resolves when the model is loaded; rejects when the caller's signal aborts first. */
  whenReady(signal: AbortSignal): Promise<void> {
    if (!this.loading) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      const onAbort = () => reject(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      this.ready.then(
        () => {
          signal.removeEventListener('abort', onAbort);
          resolve();
        },
        e => {
          signal.removeEventListener('abort', onAbort);
          reject(e);
        },
      );
    });
  }

  /** Takes one of the slots, first come first served; `onWait` runs once if it has to wait (no headers meanwhile). */
  async acquire(signal: AbortSignal, onWait: () => void): Promise<void> {
    if (this.permits > 0 && this.waiters.length === 0) {
      this.permits--;
      return;
    }
    if (signal.aborted) throw new Error('aborted');
    onWait();
    await new Promise<void>((resolve, reject) => {
      const grant = () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      };
      const onAbort = () => {
        this.waiters = this.waiters.filter(w => w !== grant);
        reject(new Error('aborted'));
      };
      this.waiters.push(grant);
      signal.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Frees a slot, handing it straight to the first waiter. */
  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.permits++;
  }

  view(keepAliveScale: number): LoadedModel {
    // Ollama's /api/ps shows now + the session for a model that has not gone idle since it was loaded; the fake
    // does the same after a reuse too, where Ollama keeps showing the time set when it last went idle
    const expiresAt = this.expiresAt > 0 ? this.expiresAt : Number.isFinite(this.sessionMs) ? Date.now() + this.sessionMs * keepAliveScale : Infinity;
    return { spec: this.spec, numCtx: this.numCtx, expiresAt };
  }

  abandonLoad(): void {
    this.loadCtl.abort();
  }

  finish(): void {
    this.gone = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.loadCtl.abort();
    this.markUnloaded();
  }
}

interface Pending {
  req: RunnerRequest;
  resolve: (r: Runner) => void;
}

export class Scheduler {
  readonly runners = new Map<string, Runner>();
  private pending: Pending[] = [];
  private busy = false;
  private closed = false;
  private reloading = new Set<string>();

  constructor(private readonly o: SchedulerOptions, private readonly events: SchedulerEvents) {}

  /**
   * Hands the request a loaded (or loading) runner of its model, taking a reference on it; `onWait` runs if
   * it has to wait for the scheduler first. Call `done` when the request ends.
   */
  async getRunner(req: RunnerRequest, signal: AbortSignal, onWait: () => void): Promise<Runner> {
    this.sweep();
    if (!this.busy && this.pending.length === 0) {
      const placed = this.place(req);
      if (placed instanceof Runner) return placed;
    }
    if (signal.aborted) throw new Error('aborted');
    onWait();
    return new Promise<Runner>((resolve, reject) => {
      const p: Pending = {
        req,
        resolve: r => {
          signal.removeEventListener('abort', onAbort);
          resolve(r);
        },
      };
      const onAbort = () => {
        this.pending = this.pending.filter(x => x !== p);
        reject(new Error('aborted'));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.pending.push(p);
      void this.process();
    });
  }

  /** A request handed `r` has ended (completed, failed or aborted). */
  done(r: Runner): void {
    r.refCount--;
    if (r.refCount > 0 || r.gone) return;
    if (r.loading) {
      // nobody waits for it any more: Ollama gives up a load whose request went away
      r.abandonLoad();
      this.remove(r, false);
      return;
    }
    if (r.victim || r.sessionMs <= 0) return this.remove(r, true);
    this.goIdle(r);
  }

  /** keep_alive 0 on an empty chat: unload the model once idle, without loading it first. */
  expireNow(key: string): void {
    const r = this.runners.get(key);
    if (!r) return;
    r.sessionMs = 0;
    if (r.refCount === 0) this.remove(r, true);
  }

  /** Loaded and loading models, the longest time left first (like /api/ps). */
  list(): LoadedModel[] {
    this.sweep();
    return [...this.runners.values()].map(r => r.view(this.o.keepAliveScale)).sort((a, b) => b.expiresAt - a.expiresAt || 0);
  }

  unloadAll(): void {
    for (const r of [...this.runners.values()]) this.expireNow(r.key);
  }

  close(): void {
    this.closed = true;
    for (const r of this.runners.values()) r.finish();
    this.runners.clear();
  }

  private place(req: RunnerRequest): Runner | { victim: Runner; why: 'evict' | 'reload' } {
    const r = this.runners.get(req.key);
    if (r) {
      if (!r.victim && r.numCtx === req.numCtx) return this.use(r, req);
      return { victim: r, why: 'reload' };
    }
    const loaded = [...this.runners.values()];
    const max = this.o.maxLoadedModels;
    const used = loaded.reduce((n, x) => n + sizeOf(x.spec), 0);
    if (loaded.length > 0 && ((max > 0 && loaded.length >= max) || used + sizeOf(req.spec) > this.o.memoryBytes)) {
      return { victim: this.findRunnerToUnload(loaded), why: 'evict' };
    }
    return this.load(req);
  }

  private async process(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      while (this.pending.length > 0 && !this.closed) {
        const p = this.pending[0];
        const placed = this.place(p.req);
        if (placed instanceof Runner) {
          this.pending.shift();
          p.resolve(placed);
          continue;
        }
        const v = placed.victim;
        v.victim ??= placed.why;
        if (placed.why === 'reload') this.reloading.add(v.key);
        if (v.timer) clearTimeout(v.timer);
        if (v.refCount === 0) this.remove(v, true);
        await v.unloaded;
      }
    } finally {
      this.busy = false;
    }
  }

  private use(r: Runner, req: RunnerRequest): Runner {
    r.refCount++;
    if (r.timer) clearTimeout(r.timer);
    r.timer = undefined;
    r.expiresAt = 0;
    if (req.keepAliveMs !== undefined) r.sessionMs = req.keepAliveMs;
    return r;
  }

  private load(req: RunnerRequest): Runner {
    const simMs = req.spec.loadMs ?? this.o.loadMs;
    const r = new Runner(
      req.key, req.spec, req.numCtx, req.spec.numParallel ?? this.o.numParallel, req.keepAliveMs ?? this.o.defaultKeepAliveMs, simMs, simMs * this.o.timeScale,
    );
    r.refCount = 1;
    this.runners.set(req.key, r);
    this.events.loaded(req.key, this.reloading.delete(req.key));
    return r;
  }

  private goIdle(r: Runner): void {
    if (!Number.isFinite(r.sessionMs)) {
      r.expiresAt = Infinity;
      return;
    }
    const ms = r.sessionMs * this.o.keepAliveScale;
    r.expiresAt = Date.now() + ms;
    // beyond what a timer can hold, the sweep on the next request or /api/ps unloads it
    if (ms <= MAX_TIMER_MS) {
      r.timer = setTimeout(() => r.refCount === 0 && this.remove(r, true), ms);
      r.timer.unref();
    }
  }

  /** Unloads idle models whose keep_alive has run out. */
  private sweep(): void {
    const now = Date.now();
    for (const r of [...this.runners.values()]) if (r.refCount === 0 && r.expiresAt > 0 && r.expiresAt <= now) this.remove(r, true);
  }

  private findRunnerToUnload(loaded: Runner[]): Runner {
    const order = [...loaded].sort((a, b) => a.sessionMs - b.sessionMs || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
    return order.find(r => r.refCount === 0) ?? order[0];
  }

  private remove(r: Runner, counted: boolean): void {
    if (r.gone) return;
    if (this.runners.get(r.key) === r) this.runners.delete(r.key);
    r.finish();
    if (counted) this.events.unloaded(r.key, r.victim === 'evict');
  }
}

function sizeOf(spec: FakeModelSpec): number {
  return spec.sizeBytes ?? 1_000_000_000;
}
