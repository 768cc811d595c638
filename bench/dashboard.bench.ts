/**
 * How long the dashboard takes to open on a big board: 10,000 tasks, 50,000 task updates and 20,000 runs by
 * 12 agents on 3 models. Measured in plain Node: the stats query (`core.stats.stats()`, the same the API
 * serves) plus rendering the page's HTML, which is what the extension does before handing the page to the
 * webview; the webview's own paint is not included. Target ≤ 1000 ms. Also reports the refresh after a
 * change (the query and the body only) and the status bar's counts.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCore } from '../src/core';
import { renderDashboardBody, renderDashboardPage } from '../src/vscode/dashboardHtml';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');
const TASKS = 10_000, UPDATES = 50_000, RUNS = 20_000, AGENTS = 12;
const MODELS = ['gemma3:1b', 'qwen2.5-coder:7b', 'deepseek-coder-v2:16b'];
const SKILLS = ['["javascript"]', '["python"]', '["javascript","testing"]', '["review"]'];

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-dash-bench-'));
  const ws = path.join(root, 'ws');
  fs.mkdirSync(ws);
  const core = await openCore({
    storageDir: path.join(root, 'storage'), wasmPath: WASM, workspaceFolders: { folders: () => [ws] },
    settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 256 << 20 }), watch: false, schedule: false,
  });
  try {
    const agents: Array<{ id: string; model: string }> = [];
    for (let i = 0; i < AGENTS; i++) agents.push(await core.agents.create({ name: `Agent${i}`, role: 'developer', skills: ['javascript', 'python'], model: MODELS[i % 3] }));
    const now = Date.now();
    const statuses = ['completed', 'completed', 'failed', 'pending', 'in_review', 'blocked', 'cancelled', 'completed'];
    core.store.mutate(tx => {
      for (let i = 0; i < TASKS; i++) {
        const st = statuses[i % statuses.length];
        const t = now - (TASKS - i) * 30_000;
        tx.run(
          `INSERT INTO tasks (id, title, description, required_skills, priority, status, assignee_id, attachments, attempts, created_at, updated_at, completed_at, review_round)
           VALUES (?, ?, '', ?, ?, ?, ?, '[]', 0, ?, ?, ?, ?)`,
          [`t${i}`, `Task ${i}`, SKILLS[i % 4], i % 4, st, agents[i % AGENTS].id, t, t + 20_000, st === 'completed' ? t + 20_000 : null, i % 3],
        );
      }
      for (let i = 0; i < UPDATES; i++) {
        tx.run(`INSERT INTO task_updates (id, task_id, agent_id, kind, body, created_at) VALUES (?, ?, ?, 'progress', ?, ?)`, [`u${i}`, `t${i % TASKS}`, agents[i % AGENTS].id, `step ${i}: wrote a file and ran the tests`, now - i * 100]);
      }
      for (let i = 0; i < RUNS; i++) {
        const a = agents[i % AGENTS];
        const t = now - (RUNS - i) * 15_000;
        tx.run(
          `INSERT INTO runs (id, task_id, agent_id, started_at, ended_at, outcome, steps, prompt_tokens, completion_tokens, cached_tokens, model_ms, provider_id, model, error_kind)
           VALUES (?, ?, ?, ?, ?, ?, 8, 4000, 600, 2500, 9000, 'ollama-local', ?, ?)`,
          [`r${i}`, `t${i % TASKS}`, a.id, t, t + 12_000, ['completed', 'failed', 'error', 'completed'][i % 4], a.model, i % 4 === 2 ? 'connection' : null],
        );
      }
      for (let i = 0; i < TASKS / 4; i++) {
        tx.run(`INSERT INTO reviews (id, task_id, round, author_id, reviewer_id, reviewer_name, verdict, created_at) VALUES (?, ?, 1, ?, ?, 'Agent0', ?, ?)`,
          [`v${i}`, `t${i * 4}`, agents[(i * 4) % AGENTS].id, agents[0].id, i % 3 ? 'approve' : 'request_changes', now - i * 1000]);
      }
    });
    const open = () => {
      const t = performance.now();
      const s = core.stats.stats();
      const html = renderDashboardPage(s, 'bench-nonce');
      if (!html.includes('Agent11')) throw new Error('the page lacks an agent');
      return performance.now() - t;
    };
    if (process.env.VERBOSE) {
      const read = core.store.read as { all: (sql: string, p?: unknown[]) => unknown[] };
      const all = read.all.bind(read);
      read.all = (sql: string, p?: unknown[]) => {
        const t = performance.now();
        const r = all(sql, p);
        console.log(`  ${(performance.now() - t).toFixed(1)} ms ${sql.replace(/\s+/g, ' ').slice(0, 90)}`);
        return r;
      };
      core.stats.stats();
      read.all = all;
    }
    const first = open();
    const times: number[] = [];
    for (let i = 0; i < 7; i++) times.push(open());
    const refresh: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      renderDashboardBody(core.stats.stats());
      refresh.push(performance.now() - t);
    }
    const counts: number[] = [];
    for (let i = 0; i < 7; i++) {
      const t = performance.now();
      core.stats.counts();
      counts.push(performance.now() - t);
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
    console.log(`dashboard with ${TASKS} tasks, ${UPDATES} updates, ${RUNS} runs, ${AGENTS} agents: first open ${first.toFixed(1)} ms, then median ${med(times).toFixed(1)} ms; refresh ${med(refresh).toFixed(1)} ms; status bar counts ${med(counts).toFixed(2)} ms`);
    // The first open is what a user waits for (cold statements, JIT): that is the figure.
    console.log(`[bench] dashboard_open_ms=${first.toFixed(1)}`);
    console.log(`[bench] dashboard_refresh_ms=${med(refresh).toFixed(1)}`);
    console.log(`[bench] status_counts_ms=${med(counts).toFixed(2)}`);
  } finally {
    await core.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
