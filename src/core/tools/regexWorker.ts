/**
 * Regular expressions from a model run in a worker thread with a time limit. JavaScript's engine
 * backtracks: `(a+)+$` on a line of 2,000 `a`s followed by `b` takes longer than the age of the universe,
 * and on the extension host's thread it would freeze every window's UI with no way to cancel. In a worker
 * the main thread keeps its event loop, and the worker is terminated when the limit passes or the run is
 * cancelled. The worker's code is self-contained text (no imports), so it runs the same from the bundle
 * and from the tests.
 */
import { Worker } from 'node:worker_threads';
import { AppError } from '../errors';

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const re = new RegExp(workerData.source, workerData.flags);
parentPort.on('message', m => {
  const lines = m.text.split('\\n');
  const hits = [];
  for (let i = 0; i < lines.length && hits.length <= m.max; i++) {
    let line = lines[i];
    if (line.endsWith('\\r')) line = line.slice(0, -1);
    if (re.test(line.slice(0, m.lineChars))) hits.push(i);
  }
  parentPort.postMessage({ id: m.id, hits });
});
`;

/** One regex, one worker; `match` answers which lines of a text match; `dispose` ends the worker. */
export class RegexWorker {
  private readonly worker: Worker;
  private nextId = 0;
  private pending: { id: number; resolve(hits: number[]): void; reject(e: unknown): void } | undefined;
  private failed: unknown;
  private readonly deadline: number;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly onAbort = () => this.fail(new AppError('cancelled', 'The search was cancelled.'));
  /** Resolves when the worker thread has ended (finished, timed out, cancelled or disposed). */
  readonly exited: Promise<void>;

  /** `source` must already be a valid pattern (compile it on the main thread first to report syntax errors). */
  constructor(
    source: string,
    flags: string,
    private readonly timeoutMs: number,
    private readonly signal?: AbortSignal,
  ) {
    this.deadline = Date.now() + timeoutMs;
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { source, flags },
      resourceLimits: { maxOldGenerationSizeMb: 256, maxYoungGenerationSizeMb: 32 },
    });
    this.worker.unref();
    this.exited = new Promise(resolve => this.worker.once('exit', () => resolve()));
    this.worker.on('message', (m: { id: number; hits: number[] }) => {
      const p = this.pending;
      if (p && p.id === m.id) {
        this.pending = undefined;
        p.resolve(m.hits);
      }
    });
    this.worker.on('error', e => this.fail(new AppError('validation', `The regular expression could not be run: ${e.message}. Simplify it, or search for plain text (regex: false).`)));
    this.timer = setTimeout(
      () =>
        this.fail(
          new AppError(
            'validation',
            `The regular expression took longer than ${(this.timeoutMs / 1000).toFixed(1)} s and was stopped: it probably backtracks catastrophically (nested repetition such as (a+)+ does). Simplify it, or search for plain text (regex: false).`,
            { timeoutMs: this.timeoutMs },
          ),
        ),
      Math.max(0, this.deadline - Date.now()),
    );
    signal?.addEventListener('abort', this.onAbort, { once: true });
    if (signal?.aborted) this.onAbort();
  }

  /** Indexes of the lines of `text` that match (each line tested on its first `lineChars` characters); at most `max + 1`. */
  match(text: string, max: number, lineChars = 2000): Promise<number[]> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise<number[]>((resolve, reject) => {
      const id = this.nextId++;
      this.pending = { id, resolve, reject };
      this.worker.postMessage({ id, text, max, lineChars });
    });
  }

  private fail(e: unknown): void {
    if (this.failed) return;
    this.failed = e;
    void this.worker.terminate();
    const p = this.pending;
    this.pending = undefined;
    p?.reject(e);
    this.cleanup();
  }

  private cleanup(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.signal?.removeEventListener('abort', this.onAbort);
  }

  /** Ends the worker. Resolves when it has stopped. */
  async dispose(): Promise<void> {
    this.cleanup();
    await this.worker.terminate();
  }
}
