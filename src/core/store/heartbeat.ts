/**
 * Renews held lock files from a worker thread. A lock is judged stale by how long ago it was renewed
 * (its mtime), so a holder must renew it while it holds it; but a holder holds the lock during
 * synchronous work on the main thread (a mutation, a compaction), when no timer of its own can run. One
 * worker per process renews every registered lock whose holder says (through shared memory) that it holds
 * it, and only if the file still carries that holder's token. When the whole process stops (SIGSTOP, a
 * suspended machine) the worker stops with it, and the lock goes stale as it should; when only the main
 * thread is paused (a debugger), the lock stays renewed and other windows wait, then say which window is
 * stuck, rather than write over it.
 */
import { Worker } from 'worker_threads';

const TOKEN_BYTES = 32;
const SLOT_INTS = 2 + TOKEN_BYTES / 4; // held flag, renew interval (ms), token

const WORKER_SOURCE = `
const { parentPort, workerData } = require('worker_threads');
const fs = require('fs');
const state = new Int32Array(workerData.buffer);
const bytes = new Uint8Array(workerData.buffer);
const SLOT = ${SLOT_INTS};
const paths = new Map();
const last = new Map();
parentPort.on('message', m => paths.set(m.slot, m.path));
function tick() {
  const now = Date.now();
  for (const [slot, path] of paths) {
    const base = slot * SLOT;
    if (Atomics.load(state, base) !== 1) continue;
    const every = Atomics.load(state, base + 1);
    if (now - (last.get(slot) || 0) < every) continue;
    const token = Buffer.from(bytes.subarray((base + 2) * 4, (base + 2) * 4 + ${TOKEN_BYTES})).toString('latin1').replace(/\\0+$/, '');
    try {
      const text = fs.readFileSync(path, 'utf8');
      if (Atomics.load(state, base) === 1 && text.split('\\n')[3] === token) {
        const t = new Date();
        fs.utimesSync(path, t, t);
        last.set(slot, now);
      }
    } catch {}
  }
  setTimeout(tick, 200);
}
tick();
`;

const MAX_SLOTS = 256;
let shared: { worker: Worker; state: Int32Array; bytes: Uint8Array; next: number; free: number[] } | undefined;

function heartbeat(): NonNullable<typeof shared> {
  if (!shared) {
    const buffer = new SharedArrayBuffer(MAX_SLOTS * SLOT_INTS * 4);
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { buffer } });
    worker.unref();
    worker.on('error', () => {
      shared = undefined; // a new worker is started for the next lock
    });
    shared = { worker, state: new Int32Array(buffer), bytes: new Uint8Array(buffer), next: 0, free: [] };
  }
  return shared;
}

/** One lock's renewal: `hold(token)` while held, `drop()` when released, `dispose()` when the lock is gone. */
export class LockRenewal {
  private slot: number | undefined;
  private hb: NonNullable<typeof shared> | undefined;

  constructor(
    private readonly path: string,
    private readonly everyMs: number,
  ) {}

  hold(token: string): void {
    const hb = heartbeat();
    if (this.hb !== hb || this.slot === undefined) {
      const slot = hb.free.pop() ?? (hb.next < MAX_SLOTS ? hb.next++ : undefined);
      if (slot === undefined) return; // more locks than slots: they are simply not renewed
      this.hb = hb;
      this.slot = slot;
      hb.worker.postMessage({ slot, path: this.path });
    }
    const base = this.slot * SLOT_INTS;
    const t = Buffer.alloc(TOKEN_BYTES);
    t.write(token.slice(0, TOKEN_BYTES), 'latin1');
    hb.bytes.set(t, (base + 2) * 4);
    Atomics.store(hb.state, base + 1, this.everyMs);
    Atomics.store(hb.state, base, 1);
  }

  drop(): void {
    if (this.hb && this.slot !== undefined) Atomics.store(this.hb.state, this.slot * SLOT_INTS, 0);
  }

  dispose(): void {
    this.drop();
    if (this.hb && this.slot !== undefined && this.hb === shared) this.hb.free.push(this.slot);
    this.slot = undefined;
    this.hb = undefined;
  }
}
