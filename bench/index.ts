/**
 * `npm run bench`: every benchmark, with its figures, targets and ratios. Timing targets are checked here,
 * never in tests: the machines are shared and noisy, so read the ratios, and rerun before believing a miss.
 *   1. bundle size of the production build
 *   2. each standalone out/bench/*.bench.js (store persistence, protocol parsing, agent loop…)
 *   3. in a real VS Code (code-server): activate() time and the Tasks tree with 10,000 tasks
 * `npm run bench -- --no-vscode` skips part 3.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '../..');
const rows: Array<{ name: string; value: number; unit: string; target: number; atLeast: boolean }> = [];

/** A figure with its target; `atLeast` for figures that must reach the target (speedups), not stay under it. */
function row(name: string, value: number, unit: string, target: number, atLeast = false): void {
  rows.push({ name, value, unit, target, atLeast });
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): { code: number; out: string } {
  const r = spawnSync(cmd, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 64 << 20 });
  process.stdout.write(r.stdout ?? '');
  process.stderr.write(r.stderr ?? '');
  return { code: r.status ?? 1, out: r.stdout ?? '' };
}

function section(title: string): void {
  process.stdout.write(`\n=== ${title}\n`);
}

section('bundle (production build)');
if (run(process.execPath, ['esbuild.mjs', '--production']).code !== 0) process.exit(1);
const size = fs.statSync(path.join(ROOT, 'dist/extension.js')).size;
row('dist/extension.js size', size / 1024, 'KB', 400);

/** `[bench] key=value` lines the standalone benches print, with the label, unit and target of each. */
const TARGETS: Record<string, [label: string, unit: string, target: number, atLeast?: boolean]> = {
  store_mutation_p50_1mb_ms: ['mutation p50, 1 MB database', 'ms', 0.5],
  store_mutation_p99_1mb_ms: ['mutation p99, 1 MB database', 'ms', 10],
  store_mutation_p50_50mb_ms: ['mutation p50, 50 MB database', 'ms', 0.5],
  store_mutation_p99_50mb_ms: ['mutation p99, 50 MB database', 'ms', 10],
  store_p50_ratio_50mb_over_1mb: ['p50 growth 50 MB / 1 MB', 'x', 1.5],
  store_compaction_50mb_ms: ['compaction pause, 50 MB', 'ms', 500],
  protocol_parse_100kb_ms: ['text protocol parse, 100 KB reply', 'ms', 5],
  protocol_parse_100kb_streamed_ms: ['same, streamed in 64-byte chunks', 'ms', 5],
  loop_wall_over_model: ['loop wall / model time (30 steps)', 'x', 1.02],
  loop_cpu_ms_per_turn: ['loop CPU per turn, HTTP client included', 'ms', 2],
  loop_own_cpu_ms_per_turn: ['loop CPU per turn, HTTP client excluded', 'ms', 2],
  scheduler_decision_ms: ['scheduling decision, 1,000 tasks x 50 agents', 'ms', 5],
  scheduler_makespan_ratio: ['makespan / ideal, 16 tasks, 4 slots', 'x', 1.1],
  kv_prompt_eval_ratio: ['prompt tokens evaluated / minimum', 'x', 1.2],
  kv_prompt_eval_ratio_naive: ['same, agents alternating on one slot', 'x', Infinity],
  two_provider_speedup: ['speedup, two providers for one model', 'x', 1.9, true],
  review_round_overhead_ms: ['one review round beyond model time', 'ms', 50],
  api_p50_ms: ['API request p50, 50 clients (create + read)', 'ms', 20],
  api_p99_ms: ['API request p99, 50 clients (create + read)', 'ms', 20],
  ws_fanout_p99_ms: ['WebSocket fan-out p99, 1 change to 20', 'ms', 10],
};

const benchDir = path.join(ROOT, 'out/bench');
for (const f of fs.readdirSync(benchDir).filter(f => f.endsWith('.bench.js')).sort()) {
  section(f);
  const r = run(process.execPath, ['--expose-gc', path.join(benchDir, f)]);
  if (r.code !== 0) process.stdout.write(`(${f} exited ${r.code})\n`);
  for (const m of r.out.matchAll(/\[bench\] (\w+)=([\d.]+)/g)) {
    const t = TARGETS[m[1]];
    if (t) row(t[0], Number(m[2]), t[1], t[2], t[3]);
  }
}

if (!process.argv.includes('--no-vscode')) {
  section('in VS Code (code-server 4.100.3)');
  const r = run(process.execPath, ['scripts/vscode-run.mjs', 'tests'], { AI2AI_TESTS_INDEX: path.join(benchDir, 'vscode/index.js') });
  const figures = Object.fromEntries([...r.out.matchAll(/\[bench\] (\w+)=([\d.]+)/g)].map(m => [m[1], Number(m[2])]));
  if (figures.activate_ms !== undefined) row('activate() returns', figures.activate_ms, 'ms', 20);
  if (figures.tasks_tree_10000_ms !== undefined) row('Tasks tree, 10,000 tasks', figures.tasks_tree_10000_ms, 'ms', 300);
  if (figures.agents_tree_with_10000_tasks_ms !== undefined) row('Agents tree beside 10,000 tasks', figures.agents_tree_with_10000_tasks_ms, 'ms', 50);
  if (figures.database_open_after_activate_ms !== undefined) row('database open (after activate)', figures.database_open_after_activate_ms, 'ms', 500);
  if (r.code !== 0) process.stdout.write(`(VS Code benchmark run exited ${r.code})\n`);
}

section('summary (figure / target = ratio; ≤ 1.00 meets the target)');
for (const r of rows) {
  // The ratio reads the same way for every row: ≤ 1.00 meets the target.
  const ratio = r.atLeast ? r.target / r.value : r.value / r.target;
  const target = Number.isFinite(r.target) ? `target ${r.atLeast ? '≥' : '≤'} ${String(r.target).padStart(5)} ${r.unit.padEnd(3)}` : `(for comparison)${' '.repeat(8)}`;
  process.stdout.write(
    `${r.name.padEnd(42)} ${r.value.toFixed(2).padStart(10)} ${r.unit.padEnd(3)} ${target} ratio ${Number.isFinite(r.target) ? ratio.toFixed(2) : '  - '} ${!Number.isFinite(r.target) || ratio <= 1 ? 'ok' : 'MISSED'}\n`,
  );
}
