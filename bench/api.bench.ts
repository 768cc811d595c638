/**
 * The local API under load.
 *  1. REST: the headless server (`ai2ai serve`, its own process) and 50 concurrent clients, each creating a
 *     task and reading it back 20 times, with THINK_MS (200 ms; at most 500 requests/s in all) between rounds, as scripts and agents do;
 *     the latency of every request (create or read), p50 and p99. Target p99 ≤ 20 ms. The same clients
 *     without a pause (the server saturated: latency is then queueing, 50 deep) are printed for comparison.
 *  2. WebSocket fan-out: one change reaching 20 subscribers of /v1/events, from its publication (the change
 *     feed firing after the commit) to each client's message handler (server and clients in this process, so
 *     one clock), 100 changes. Target p99 ≤ 10 ms. The same from the start of the mutation (the store's
 *     own commit included; the store bench has its targets) is printed for comparison.
 */
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import { startApiServer } from '../src/api';
import { openCore } from '../src/core';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');
const CLIENTS = 50;
const ROUNDS = 20;
const THINK_MS = Number(process.env.THINK_MS ?? 200);
const SUBSCRIBERS = 20;
const CHANGES = 100;

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};

function request(agent: http.Agent, port: number, token: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> { // eslint-disable-line @typescript-eslint/no-explicit-any
  const raw = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1', port, path: p, method, agent,
        headers: { authorization: `Bearer ${token}`, ...(raw ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(raw) } : {}) },
      },
      res => {
        const chunks: Buffer[] = [];
        res.on('data', c => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString('utf8')) }));
      },
    );
    req.on('error', reject);
    if (raw) req.write(raw);
    req.end();
  });
}

type Latency = { p50: number; p99: number; n: number; rps: number; cpuPerRequest: number };

/** CPU time a process has used (user + system), from /proc: what a request costs the server, whatever else runs. */
function cpuMs(pid: number): number {
  try {
    const f = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(f[11]) + Number(f[12])) * 1000) / 100; // clock ticks; USER_HZ is 100 on Linux
  } catch {
    return NaN;
  }
}
const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));

async function rest(root: string): Promise<Latency & { saturated: Latency }> {
  const storage = path.join(root, 'storage');
  const workspace = path.join(root, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  // BENCH_CPU_PROF=<dir> writes the server's CPU profile there.
  const prof = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
  const child = spawn(process.execPath, [...prof, path.join(__dirname, '../src/cli/bin.js'), 'serve', '--storage', storage, '--workspace', workspace, '--port', '0'], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout!.on('data', d => {
        out += String(d);
        const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', code => reject(new Error(`the server exited ${code}`)));
    });
    const token = fs.readFileSync(path.join(storage, 'api-token'), 'utf8').trim();
    const agent = new http.Agent({ keepAlive: true, maxSockets: CLIENTS });
    const one = async (i: number, samples?: number[]) => {
      let t = performance.now();
      const created = await request(agent, port, token, 'POST', '/v1/tasks', { title: `bench ${i}`, description: 'a task made by the API benchmark', requiredSkills: ['js'] });
      if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(created.json)}`);
      samples?.push(performance.now() - t);
      t = performance.now();
      const read = await request(agent, port, token, 'GET', `/v1/tasks/${created.json.id}`);
      if (read.status !== 200) throw new Error(`read: ${read.status}`);
      samples?.push(performance.now() - t);
    };
    for (let i = 0; i < 100; i++) await one(i); // warm up (JIT, statement cache, sockets)
    const measure = async (think: number) => {
      const samples: number[] = [];
      const cpu0 = cpuMs(child.pid!);
      const t0 = performance.now();
      await Promise.all(Array.from({ length: CLIENTS }, async (_, c) => {
        if (think) await sleep(Math.random() * think); // clients start at different moments, as they would
        for (let r = 0; r < ROUNDS; r++) {
          await one(c * 1000 + r, samples);
          if (think) await sleep(think);
        }
      }));
      const cpu = cpuMs(child.pid!) - cpu0;
      if (process.env.VERBOSE) console.log(`  think ${think}: p90 ${pct(samples, 90).toFixed(1)} p95 ${pct(samples, 95).toFixed(1)} p99 ${pct(samples, 99).toFixed(1)} max ${pct(samples, 100).toFixed(1)} ms`);
      return { p50: pct(samples, 50), p99: pct(samples, 99), n: samples.length, rps: samples.length / ((performance.now() - t0) / 1000), cpuPerRequest: cpu / samples.length };
    };
    const paced = await measure(THINK_MS);
    const saturated = await measure(0);
    agent.destroy();
    return { ...paced, saturated };
  } finally {
    child.kill('SIGINT');
    await new Promise(r => child.once('exit', r));
  }
}

async function fanout(root: string): Promise<{ p50: number; p99: number; n: number; server99: number; commit99: number }> {
  const storage = path.join(root, 'fanout-storage');
  const workspace = path.join(root, 'fanout-workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const core = await openCore({
    storageDir: storage, wasmPath: WASM, workspaceFolders: { folders: () => [workspace] }, watch: false, schedule: false,
    settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20 }),
  });
  const token = 'bench-token-bench-token-bench-token-1234';
  let published = 0;
  // Registered before the server's own listener, so it fires first: the moment the change is published.
  core.changes.event(() => (published = performance.now()));
  const api = await startApiServer({ core, token: () => token, port: 0 });
  const samples: number[] = [];
  const serverSide: number[] = [];
  const fromCommit: number[] = [];
  let t0 = 0;
  let pending = 0;
  let done: (() => void) | undefined;
  const clients = await Promise.all(
    Array.from({ length: SUBSCRIBERS }, () => new Promise<WebSocket>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${api.port}/v1/events`, { headers: { authorization: `Bearer ${token}` } });
      ws.on('message', d => {
        const m = JSON.parse(String(d)) as { type: string };
        if (m.type !== 'change' || !t0) return;
        const now = performance.now();
        samples.push(now - published);
        fromCommit.push(now - t0);
        if (--pending === 0) done?.();
      });
      ws.once('open', () => resolve(ws));
      ws.once('error', reject);
    })),
  );
  try {
    for (let i = 0; i < CHANGES + 10; i++) {
      const all = new Promise<void>(r => (done = r));
      pending = SUBSCRIBERS;
      t0 = performance.now();
      core.tasks.create({ title: `fan-out ${i}` }); // the commit publishes the change synchronously
      serverSide.push(performance.now() - t0);
      await all;
      if (i === 9) samples.length = serverSide.length = fromCommit.length = 0; // the first 10 warm up
      await new Promise(r => setTimeout(r, 5));
    }
  } finally {
    for (const ws of clients) ws.close();
    await api.close();
    await core.close();
  }
  return { p50: pct(samples, 50), p99: pct(samples, 99), n: samples.length, server99: pct(serverSide, 99), commit99: pct(fromCommit, 99) };
}

async function main(): Promise<void> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-api-bench-'));
  try {
    const r = await rest(root);
    console.log(`REST, ${CLIENTS} concurrent clients x ${ROUNDS} rounds of create + read, ${THINK_MS} ms between rounds: ${r.n} requests at ${r.rps.toFixed(0)}/s, p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms (target p99 ≤ 20) ${r.p99 <= 20 ? 'ok' : 'MISSED'}`);
    const s = r.saturated;
    console.log(`  for comparison, the same clients without a pause (saturated): ${s.rps.toFixed(0)} requests/s, p50 ${s.p50.toFixed(2)} ms, p99 ${s.p99.toFixed(2)} ms`);
    console.log(`  server CPU per request (create or read, HTTP included): ${r.cpuPerRequest.toFixed(2)} ms paced, ${s.cpuPerRequest.toFixed(2)} ms saturated; machine load ${os.loadavg()[0]!.toFixed(1)} on ${os.cpus().length} cores`);
    const f = await fanout(root);
    console.log(`WebSocket fan-out, one change to ${SUBSCRIBERS} subscribers x ${CHANGES}, from its publication: p50 ${f.p50.toFixed(2)} ms, p99 ${f.p99.toFixed(2)} ms (target ≤ 10) ${f.p99 <= 10 ? 'ok' : 'MISSED'}`);
    console.log(`  for comparison, from the start of the mutation (the store's commit included): p99 ${f.commit99.toFixed(2)} ms; the mutation with its ${SUBSCRIBERS} sends, server side: p99 ${f.server99.toFixed(2)} ms`);
    console.log(`[bench] api_p50_ms=${r.p50.toFixed(3)}`);
    console.log(`[bench] api_p99_ms=${r.p99.toFixed(3)}`);
    console.log(`[bench] ws_fanout_p99_ms=${f.p99.toFixed(3)}`);
  } finally {
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().catch(e => {
  console.error(e);
  process.exit(1);
});
