/** Two processes writing one database at once, as two VS Code windows sharing globalStorage do. */
import * as assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { openStore } from '../../../src/core/store/sqlite';
import { fixture, rmDir, tempDir, WASM } from './fixtures/util';

const PER_PROCESS = 1000;

interface Writer {
  child: ChildProcessWithoutNullStreams;
  lines: string[];
  closed: Promise<void>;
  next(pred: (l: string) => boolean): Promise<string>;
}

function startWriter(dir: string, who: string): Writer {
  const child = spawn(process.execPath, [
    fixture('writer'),
    JSON.stringify({ dir, wasm: WASM, mode: 'concurrent', who, count: PER_PROCESS, compactAfterBytes: 64 * 1024, watch: true }),
  ]);
  const lines: string[] = [];
  const waiters: { pred: (l: string) => boolean; resolve: (l: string) => void }[] = [];
  let buf = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    buf += d;
    const parts = buf.split('\n');
    buf = parts.pop()!;
    for (const l of parts) {
      lines.push(l);
      for (const w of [...waiters]) if (w.pred(l)) (waiters.splice(waiters.indexOf(w), 1), w.resolve(l));
    }
  });
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<never>((_, reject) =>
    child.on('close', code => reject(new Error(`writer ${who} exited (${code}) before answering: ${stderr}`))),
  );
  exited.catch(() => {});
  return {
    child,
    lines,
    closed: new Promise<void>(r => (child.exitCode !== null ? r() : child.on('close', () => r()))),
    next: pred => {
      const found = lines.find(pred);
      if (found) return Promise.resolve(found);
      return Promise.race([new Promise<string>(resolve => waiters.push({ pred, resolve })), exited]);
    },
  };
}

describe('store: two processes writing at once', function () {
  this.timeout(60_000);
  let dir: string;
  beforeEach(() => (dir = tempDir()));
  afterEach(() => rmDir(dir));

  it(`keeps all ${2 * PER_PROCESS} inserts and read-modify-write increments`, async () => {
    const setup = await openStore({ dir, wasmPath: WASM, watch: false });
    setup.mutate(tx =>
      tx.run("INSERT INTO providers (id, kind, name, base_url, max_concurrency, created_at) VALUES ('counter', 'ollama', 'c', 'http://x', 0, 0)"),
    );
    setup.close();

    const started = Date.now();
    const a = startWriter(dir, 'a');
    const b = startWriter(dir, 'b');
    const acks = (w: Writer) => w.lines.filter(l => l.startsWith('ack ')).length;
    // When the first finishes, the other must be part-way: otherwise they did not overlap and prove nothing.
    const first = await Promise.race([a.next(l => l === 'done').then(() => b), b.next(l => l === 'done').then(() => a)]);
    const overlap = acks(first);
    await Promise.all([a.next(l => l === 'done'), b.next(l => l === 'done')]);
    const ms = Date.now() - started;
    assert.ok(overlap > 0, `the writers did not overlap (the second had ${overlap} acks when the first finished)`);
    const views = await Promise.all(
      [a, b].map(async w => {
        w.child.stdin.write('check\n');
        return JSON.parse(await w.next(l => l.startsWith('{'))) as { rows: number; counter: number };
      }),
    );
    await Promise.all([a.closed, b.closed]);
    const third = await openStore({ dir, wasmPath: WASM, watch: false });
    const rows = Number(third.read.get<{ n: number }>('SELECT count(*) AS n FROM tasks')?.n);
    const counter = Number(third.read.get<{ n: number }>("SELECT max_concurrency AS n FROM providers WHERE id = 'counter'")?.n);
    third.close();
    console.log(`      ${2 * PER_PROCESS} mutations from 2 processes in ${ms} ms (incl. start-up; the slower had ${overlap} done when the faster finished); fresh open: ${rows} rows, counter ${counter}; ` +
      `own views: ${views.map(v => `${v.rows}/${v.counter}`).join(', ')}`);
    assert.equal(rows, 2 * PER_PROCESS);
    assert.equal(counter, 2 * PER_PROCESS);
    for (const v of views) assert.deepEqual(v, { rows: 2 * PER_PROCESS, counter: 2 * PER_PROCESS });
  });
});
