/**
 * Store persistence benchmark: per-mutation latency of a typical one-row insert at ~1 MB and ~50 MB,
 * and the pauses that do grow with size (compaction, open). Run: node out/bench/store.bench.js
 * The point of the journal design is that the per-mutation cost does not depend on the database size,
 * so the 50 MB / 1 MB ratio matters more than the absolute figures on a shared, noisy machine.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openStore } from '../src/core/store/sqlite';
import type { Store } from '../src/core/store/types';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');
const INSERT = 'INSERT INTO tasks (id, title, description, created_at, updated_at) VALUES (?, ?, ?, ?, ?)';
const DESCRIPTION = 'Refactor the parser so that errors carry positions; add tests for each error path. '.repeat(3);
const BULK_ROW = 'x'.repeat(1000);
const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});

let next = 0;
const now = () => Number(process.hrtime.bigint()) / 1e6;

function dbBytes(s: Store): number {
  const pages = Number(s.read.get<{ page_count: number }>('PRAGMA page_count')?.page_count);
  const size = Number(s.read.get<{ page_size: number }>('PRAGMA page_size')?.page_size);
  return pages * size;
}

/** Bulk rows in big mutations, as an import would, until the database reaches `target` bytes. */
function grow(s: Store, target: number): void {
  for (let have = dbBytes(s); have < target; have = dbBytes(s)) {
    const n = Math.min(5000, Math.ceil((target - have) / 1100));
    s.mutate(tx => {
      for (let i = 0; i < n; i++) tx.run(INSERT, [`bulk-${next++}`, 'bulk', BULK_ROW, 0, 0]);
    });
  }
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function warm(s: Store): void {
  for (let i = 0; i < 200; i++) s.mutate(tx => tx.run(INSERT, [`warm-${next++}`, 'warm-up', DESCRIPTION, i, i]));
}

function sample(s: Store, n: number): number[] {
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = `t-${next++}`;
    const t0 = now();
    s.mutate(tx => tx.run(INSERT, [id, `Task ${id}`, DESCRIPTION, 1_700_000_000_000 + i, 1_700_000_000_000 + i]));
    times.push(now() - t0);
  }
  return times;
}

function stats(times: number[]): { p50: number; p99: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  return { p50: quantile(sorted, 0.5), p99: quantile(sorted, 0.99), max: sorted[sorted.length - 1] };
}

function measure(s: Store, n: number): { p50: number; p99: number; max: number } {
  warm(s);
  gc();
  return stats(sample(s, n));
}

const rows: Array<[string, string, string, boolean | undefined]> = [];
function row(name: string, value: string, target = '', ok?: boolean): void {
  rows.push([name, value, target, ok]);
}
const ms = (v: number) => `${v.toFixed(3)} ms`;

async function main(): Promise<void> {
  const started = Date.now();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-bench-store-'));
  try {
    const smallDir = path.join(dir, 'small');
    let sm = await openStore({ dir: smallDir, wasmPath: WASM, watch: false });
    grow(sm, 1 << 20);
    sm.compact();
    const mb1 = dbBytes(sm) / 1048576;
    sm.close();

    // Same size, fdatasync before every acknowledgement (the `durableWrites` setting).
    sm = await openStore({ dir: smallDir, wasmPath: WASM, watch: false, durable: true });
    const durable = measure(sm, 1000);
    sm.close();
    sm = await openStore({ dir: smallDir, wasmPath: WASM, watch: false });

    let s = await openStore({ dir, wasmPath: WASM, watch: false });
    const g0 = now();
    grow(s, 50 << 20);
    const growMs = now() - g0;
    s.compact();
    const mb50 = dbBytes(s) / 1048576;
    // 1 MB and 50 MB measured in alternating blocks, so machine noise hits both alike.
    warm(sm);
    warm(s);
    gc();
    const smallTimes: number[] = [];
    const bigTimes: number[] = [];
    for (let round = 0; round < 6; round++) {
      smallTimes.push(...sample(sm, 500));
      bigTimes.push(...sample(s, 500));
    }
    sm.close();
    const small = stats(smallTimes);
    const big = stats(bigTimes);
    row(`mutation p50 @ ${mb1.toFixed(1)} MB`, ms(small.p50), '≤ 0.5 ms', small.p50 <= 0.5);
    row(`mutation p99 @ ${mb1.toFixed(1)} MB`, ms(small.p99));
    row(`mutation max @ ${mb1.toFixed(1)} MB`, ms(small.max));
    row(`durable mutation p50 @ ${mb1.toFixed(1)} MB`, ms(durable.p50), '(fsync-bound)');
    const ratio = big.p50 / small.p50;
    row(`mutation p50 @ ${mb50.toFixed(1)} MB`, ms(big.p50), '≤ 0.5 ms', big.p50 <= 0.5);
    row(`mutation p99 @ ${mb50.toFixed(1)} MB`, ms(big.p99));
    row(`mutation max @ ${mb50.toFixed(1)} MB`, ms(big.max), '(sql.js grows its heap in steps)');
    row('p50 ratio 50 MB / 1 MB', ratio.toFixed(2), '≤ 1.5 (no growth)', ratio <= 1.5);

    const pauses: number[] = [];
    for (let i = 0; i < 3; i++) {
      s.mutate(tx => tx.run(INSERT, [`c-${next++}`, 'c', DESCRIPTION, 0, 0]));
      const t0 = now();
      s.compact();
      pauses.push(now() - t0);
    }
    pauses.sort((a, b) => a - b);
    row(`compaction pause @ ${mb50.toFixed(1)} MB (median of 3)`, ms(pauses[1]), '(export + atomic write; rare)');
    const t1 = now();
    s.close();
    row(`close @ ${mb50.toFixed(1)} MB, nothing to compact`, ms(now() - t1));
    gc();
    const t2 = now();
    s = await openStore({ dir, wasmPath: WASM, watch: false });
    row(`open @ ${mb50.toFixed(1)} MB (read + quick_check)`, ms(now() - t2));
    s.close();
    row(`grow to ${mb50.toFixed(0)} MB in 5,000-row mutations`, `${(growMs / 1000).toFixed(1)} s`);

    const w = [44, 14, 34];
    process.stdout.write(`store persistence: sql.js + shared journal (node ${process.version}, ${os.platform()})\n`);
    process.stdout.write(`${'measure'.padEnd(w[0])}${'figure'.padStart(w[1])}  ${'target'.padEnd(w[2])}\n`);
    for (const [name, value, target, ok] of rows) {
      const verdict = ok === undefined ? '' : ok ? 'ok' : 'MISSED';
      process.stdout.write(`${name.padEnd(w[0])}${value.padStart(w[1])}  ${target.padEnd(w[2])}${verdict}\n`);
    }
    process.stdout.write(`[bench] store_mutation_p50_1mb_ms=${small.p50.toFixed(3)}\n`);
    process.stdout.write(`[bench] store_mutation_p50_50mb_ms=${big.p50.toFixed(3)}\n`);
    process.stdout.write(`[bench] store_mutation_p99_1mb_ms=${small.p99.toFixed(3)}\n`);
    process.stdout.write(`[bench] store_mutation_p99_50mb_ms=${big.p99.toFixed(3)}\n`);
    process.stdout.write(`[bench] store_p50_ratio_50mb_over_1mb=${(big.p50 / small.p50).toFixed(3)}\n`);
    process.stdout.write(`[bench] store_compaction_50mb_ms=${pauses[1].toFixed(1)}\n`);
    process.stdout.write(`(${((Date.now() - started) / 1000).toFixed(1)} s)\n`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main().catch(e => {
  process.stderr.write(`store bench failed: ${e instanceof Error ? e.stack : String(e)}\n`);
  process.exit(1);
});
