/**
 * A cross-process lock file, taken synchronously because `Store.mutate` is synchronous.
 *
 * O_EXCL creation is atomic on every local file system we run on; the file carries pid, host, time and a
 * random token so a waiter can tell a dead holder from a live one, and so release never deletes a lock
 * someone else has taken since.
 *
 * A lock is stale, and broken, only when its holder is provably gone (a dead pid on this host) or has
 * stopped renewing it: the holder's process renews the file's mtime from a worker thread while it holds
 * it (heartbeat.ts), so a holder that is merely slow keeps its lock, and one whose whole process stalled
 * (SIGSTOP, a suspended machine) loses it after `staleMs`. Such a holder may wake up still believing it
 * holds the lock, so before it writes it must `verify()` that the file still carries its token (fencing).
 */
import * as fs from 'fs';
import * as os from 'os';
import { randomBytes } from 'crypto';
import { AppError } from '../errors';
import type { Logger } from '../ports';
import { LockRenewal } from './heartbeat';

export interface LockOptions {
  /** Give up waiting after this long. */
  timeoutMs?: number;
  /**
   * A lock not renewed for this long is broken even if its pid looks alive: the process stalled, the pid
   * was reused, or the holder is on another host we cannot probe. Holders renew every quarter of it.
   */
  staleMs?: number;
}

const sleepCell = new Int32Array(new SharedArrayBuffer(4));
/** Blocks the thread without spinning; Node allows Atomics.wait on its main thread. */
export function sleepSync(ms: number): void {
  Atomics.wait(sleepCell, 0, 0, ms);
}

interface Holder {
  pid: number;
  host: string;
  time: number;
  token: string;
}

function parseHolder(text: string): Holder | undefined {
  const [pid, host, time, token] = text.split('\n');
  const p = Number(pid);
  const t = Number(time);
  if (!Number.isInteger(p) || !host || !Number.isFinite(t) || !token) return undefined;
  return { pid: p, host, time: t, token };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists but belongs to someone else, so it is alive.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readOrUndefined(path: string): string | undefined {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export class FileLock {
  private token: string | undefined;
  private readonly host = os.hostname();
  private readonly timeoutMs: number;
  private readonly staleMs: number;
  private readonly renewal: LockRenewal;

  constructor(
    readonly path: string,
    private readonly logger: Logger,
    opts: LockOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 10_000;
    this.staleMs = opts.staleMs ?? 30_000;
    this.renewal = new LockRenewal(path, Math.max(50, Math.floor(this.staleMs / 4)));
  }

  get held(): boolean {
    return this.token !== undefined;
  }

  acquire(): void {
    if (this.token) throw new AppError('internal', 'The storage lock is already held by this store (nested mutation?).');
    const token = randomBytes(8).toString('hex');
    const body = `${process.pid}\n${this.host}\n${Date.now()}\n${token}\n`;
    const deadline = Date.now() + this.timeoutMs;
    for (let attempt = 0; ; attempt++) {
      let fd: number;
      try {
        fd = fs.openSync(this.path, 'wx');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') {
          throw new AppError('storage_io', `AI2AI could not create its lock file "${this.path}": ${(e as Error).message}`, { path: this.path }, { cause: e });
        }
        this.breakIfStale();
        if (Date.now() >= deadline) {
          const holder = parseHolder(readOrUndefined(this.path) ?? '');
          throw new AppError(
            'storage_locked',
            `AI2AI's database is locked by another process${holder ? ` (pid ${holder.pid} on ${holder.host})` : ''} and stayed locked for ${Math.round(this.timeoutMs / 1000)} s. ` +
              `Another VS Code window seems stuck: close or reload it and try again. If no other window is open, delete "${this.path}".`,
            { path: this.path, holder },
          );
        }
        // Short first waits keep contention latency low; jitter stops two waiters retrying in lockstep.
        sleepSync(Math.min(1 + attempt, 10) * (0.5 + Math.random()));
        continue;
      }
      try {
        fs.writeSync(fd, body);
      } catch (e) {
        // A full disk: no lock file may stay behind, or every window would wait on an empty lock.
        try {
          fs.closeSync(fd);
        } catch {
          // already closed
        }
        try {
          fs.unlinkSync(this.path);
        } catch {
          // not there
        }
        throw new AppError(
          'storage_io',
          `AI2AI could not write its lock file "${this.path}": ${(e as Error).message}. ${(e as NodeJS.ErrnoException).code === 'ENOSPC' ? 'The disk is full: free some space and reload the window.' : 'Check that the folder is writable and reload the window.'}`,
          { path: this.path, code: (e as NodeJS.ErrnoException).code },
          { cause: e },
        );
      }
      fs.closeSync(fd);
      this.token = token;
      this.renewal.hold(token);
      return;
    }
  }

  /** Does the lock file still carry our token? Checked before every write: a stalled holder may have lost it. */
  verify(): boolean {
    if (!this.token) return false;
    return parseHolder(readOrUndefined(this.path) ?? '')?.token === this.token;
  }

  /** Stops renewing for good (the store closed). */
  dispose(): void {
    this.renewal.dispose();
  }

  release(): void {
    const token = this.token;
    if (!token) return;
    this.token = undefined;
    this.renewal.drop();
    const holder = parseHolder(readOrUndefined(this.path) ?? '');
    if (holder?.token !== token) {
      this.logger.warn(`storage lock ${this.path} was taken over while we held it (held too long?); leaving the new holder's lock alone`);
      return;
    }
    try {
      fs.unlinkSync(this.path);
    } catch (e) {
      this.logger.warn(`could not remove storage lock ${this.path}`, e);
    }
  }

  /**
   * Two waiters may judge the same lock stale at once; if both unlinked, the second would delete the
   * lock the first had just taken. A short-lived `.break` lock serialises breakers, and the stale
   * judgement is repeated under it against the exact token first seen.
   */
  private breakIfStale(): void {
    const seen = readOrUndefined(this.path);
    if (seen === undefined) return; // released meanwhile: retry right away
    if (!this.isStale(seen)) return;
    const breakPath = `${this.path}.break`;
    let fd: number;
    try {
      fd = fs.openSync(breakPath, 'wx');
    } catch {
      // Another waiter is breaking it. A breaker that died here leaves `.break` behind: clear it when old.
      try {
        if (Date.now() - fs.statSync(breakPath).mtimeMs > 2_000) fs.unlinkSync(breakPath);
      } catch {
        // gone already
      }
      return;
    }
    fs.closeSync(fd);
    try {
      const again = readOrUndefined(this.path);
      if (again === seen) {
        fs.unlinkSync(this.path);
        this.logger.warn(`broke a stale storage lock ${this.path}: ${seen.replace(/\n/g, ' ').trim()}`);
      }
    } catch {
      // someone else removed it first
    } finally {
      try {
        fs.unlinkSync(breakPath);
      } catch {
        // nothing to clean
      }
    }
  }

  private isStale(text: string): boolean {
    let age: number;
    try {
      age = Date.now() - fs.statSync(this.path).mtimeMs;
    } catch {
      return false; // released meanwhile
    }
    const holder = parseHolder(text);
    // Empty or partial: the holder is between open and write (microseconds) or died right there.
    if (!holder) return age > 2_000;
    if (holder.host === this.host && holder.pid !== process.pid && !pidAlive(holder.pid)) return true;
    // Alive (or on another host): stale only once it stopped renewing.
    return age > this.staleMs;
  }
}
