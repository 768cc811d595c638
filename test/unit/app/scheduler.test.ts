import * as assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { CoreChange } from '../../../src/core/changes';
import type { Task } from '../../../src/core/model/schemas';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { tempCore, WASM, type TempCore } from '../core/helpers';

const MODEL = 'gemma3:1b';
const complete = (result = 'done') => asText({ tool: 'complete', args: { result } });
const WORKER = path.join(__dirname, 'fixtures', 'worker.js');

async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

/** A worker process on the same database; resolves lines as they come. */
function worker(args: Record<string, unknown>): { child: ChildProcess; lines: string[]; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [WORKER, JSON.stringify({ wasm: WASM, ...args })], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let buf = '';
  child.stdout!.on('data', d => {
    buf += String(d);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(buf.slice(0, i));
      buf = buf.slice(i + 1);
    }
  });
  let err = '';
  child.stderr!.on('data', d => (err += String(d)));
  const exited = new Promise<number | null>(resolve => child.on('exit', code => {
    if (code) process.stderr.write(`worker exited ${code}: ${err}\n${lines.join('\n')}\n`);
    resolve(code);
  }));
  return { child, lines, exited };
}

describe('the team runs itself: application layer, scheduler, leases', function () {
  this.timeout(120_000);
  let t: TempCore;
  let fake: FakeOllama;

  async function setup(opts: { autoRun?: boolean; slots?: number; leaseMs?: number; schedule?: boolean; watch?: boolean } = {}): Promise<void> {
    fake = await startFakeOllama({ numParallel: opts.slots ?? 1, defaultReply: { ...complete(), delayMs: 40 } });
    t = await tempCore({ scheduler: { autoRun: opts.autoRun ?? false, leaseMs: opts.leaseMs ?? 5000, maxAttempts: 3 } }, { tickMs: 100, schedule: opts.schedule, watch: opts.watch ?? false });
    t.core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: opts.slots ?? 1 });
  }
  afterEach(async () => {
    await t?.core.close().catch(() => undefined);
    t?.cleanup();
    await fake?.close();
  });

  it('20 tasks with dependencies over 4 agents on a provider with 2 slots complete in a valid order, never more than 2 requests in flight', async () => {
    await setup({ autoRun: true, slots: 2 });
    for (const name of ['Ada', 'Bo', 'Cy', 'Di']) await t.core.agents.create({ name, role: 'developer', skills: ['js'], model: MODEL });
    const tasks: Task[] = [];
    for (let i = 0; i < 20; i++) {
      tasks.push(t.core.tasks.create({ title: `task ${i}`, requiredSkills: ['js'], priority: i % 3, dependsOn: i >= 5 ? [tasks[i - 5].id] : [] }));
    }
    await until('every task to complete', () => t.core.tasks.list().every(x => x.status === 'completed'), 60_000);
    const done = new Map(t.core.tasks.list().map(x => [x.id, x]));
    for (const task of tasks) {
      const d = done.get(task.id)!;
      for (const dep of task.dependsOn) assert.ok(d.startedAt! >= done.get(dep)!.completedAt!, `"${task.title}" started before its dependency completed`);
      assert.match(d.assignReason ?? '', /skills 1\/1/);
    }
    const max = fake.counters.maxActiveByModel[MODEL];
    console.log(`      max requests in flight to ${MODEL}: ${max} (slots 2), runs ${t.core.executor.list().length}`);
    assert.ok(max <= 2, `the fake saw ${max} requests at once`);
    assert.equal(max, 2, 'both slots were used');
    assert.equal(t.core.executor.list().length, 20, 'each task ran once');
  });

  it('on a skill tie, the agent with the better record is chosen, and the reasons are recorded on the task', async () => {
    await setup({ schedule: false });
    const ada = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: ['typescript'], model: MODEL });
    const bo = await t.core.agents.create({ name: 'Bo', role: 'developer', skills: ['typescript'], model: MODEL });
    // Past runs: Ada passed 8 of 9 typescript tasks, Bo 1 of 3.
    t.core.store.mutate(tx => {
      let n = 0;
      const past = (agentId: string, ok: boolean) => {
        const id = `past-${n++}`;
        tx.run(`INSERT INTO tasks (id, title, required_skills, status, created_at, updated_at) VALUES (?, 'old', '["typescript"]', 'completed', 1, 1)`, [id]);
        tx.run(`INSERT INTO runs (id, task_id, agent_id, started_at, ended_at, outcome) VALUES (?, ?, ?, 1, 1000, ?)`, [`r-${id}`, id, agentId, ok ? 'completed' : 'failed']);
      };
      for (let i = 0; i < 9; i++) past(ada.id, i < 8);
      for (let i = 0; i < 3; i++) past(bo.id, i < 1);
    });
    const task = t.core.tasks.create({ title: 'port to typescript', requiredSkills: ['typescript'] });
    const ranked = t.core.app.rankAgents(task.id);
    assert.deepEqual(ranked.map(r => r.agent.name), ['Ada', 'Bo'], 'the Assign picker ranks by the same score');
    t.settings.scheduler = { autoRun: true, leaseMs: 5000, maxAttempts: 3 };
    t.core.scheduler.start();
    await until('the task to complete', () => t.core.tasks.get(task.id).status === 'completed');
    const done = t.core.tasks.get(task.id);
    assert.equal(done.assigneeId, ada.id);
    assert.match(done.assignReason ?? '', /^skills 1\/1, 8 of 9 past typescript tasks passed/);
    assert.ok(t.core.activity.updates(task.id).some(u => u.body.includes(`assigned to Ada: ${done.assignReason}`)), 'the history says who and why');
  });

  it('a worker process SIGKILLed mid-run: a new process sees its lease expire, resumes with the earlier steps in its prompt, and completes', async () => {
    await setup({ schedule: false, leaseMs: 1000 });
    const agent = await t.core.agents.create({ name: 'Ada', role: 'developer', model: MODEL });
    const task = t.core.tasks.create({ title: 'write a', assigneeId: agent.id });
    await t.core.close();
    fake.script(
      MODEL,
      asText({ tool: 'report_progress', args: { message: 'Plan: write src/a.js, then complete' } }),
      asText({ tool: 'write_file', args: { path: 'src/a.js', content: 'module.exports = 1;\n' } }),
      { content: 'never finished', stallAfter: 0 },
    );
    const w = worker({ storage: t.storageDir, workspace: t.workspaceDir, mode: 'run', taskId: task.id, leaseMs: 1000 });
    await until('the worker to take two steps', () => w.lines.includes('step 2'));
    await until('its third model call', () => fake.counters.active > 0);
    w.child.kill('SIGKILL');
    await w.exited;
    t.core = await (async () => {
      const { openCore } = await import('../../../src/core');
      return openCore({ storageDir: t.storageDir, wasmPath: WASM, workspaceFolders: { folders: () => [t.workspaceDir] }, settings: () => t.settings, watch: false, tickMs: 100 });
    })();
    assert.equal(t.core.tasks.get(task.id).status, 'in_progress', 'its lease has not run out yet');
    await until('the lease to expire and the task to return to the queue', () => t.core.tasks.get(task.id).status === 'pending', 10_000);
    fake.script(MODEL, complete('a.js written'));
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    const runs = t.core.executor.list(task.id);
    assert.deepEqual(runs.map(r => r.outcome), ['interrupted', 'completed']);
    assert.equal(runs[1].resumedFrom, runs[0].id);
    const chats = fake.requestsTo('/api/chat');
    const resumed = chats[chats.length - 1].body.messages as Array<{ role: string; content: string }>;
    assert.ok(resumed.some(m => m.role === 'assistant' && m.content.includes('<write_file>')), 'the earlier steps are in the prompt');
    assert.match(resumed[resumed.length - 1].content, /interrupted after 2 steps/);
    assert.match(resumed[resumed.length - 1].content, /a\.js/, 'with the files on disk');
    assert.equal(fs.readFileSync(path.join(t.workspaceDir, 'agents/ada/src/a.js'), 'utf8'), 'module.exports = 1;\n');
    assert.ok(t.core.activity.updates(task.id).some(u => /resumed/.test(u.body)), 'the task says it resumed');
  });

  it('two processes with auto-run on one database and 100 tasks: every task ran exactly once', async () => {
    await setup({ schedule: false, slots: 4 });
    fake.options.defaultReply = { ...complete(), delayMs: 5 };
    for (const name of ['Ada', 'Bo', 'Cy', 'Di']) await t.core.agents.create({ name, role: 'developer', model: MODEL });
    for (let i = 0; i < 100; i++) t.core.tasks.create({ title: `task ${i}` });
    await t.core.close();
    const a = worker({ storage: t.storageDir, workspace: t.workspaceDir, mode: 'autorun' });
    const b = worker({ storage: t.storageDir, workspace: t.workspaceDir, mode: 'autorun' });
    assert.deepEqual(await Promise.all([a.exited, b.exited]), [0, 0]);
    assert.ok(a.lines.includes('done') && b.lines.includes('done'), `${a.lines.at(-1)} / ${b.lines.at(-1)}`);
    t.core = await t.reopen().catch(async () => t.core);
    const runs = t.core.store.read.all<{ task_id: string; owner: string; outcome: string }>('SELECT task_id, owner, outcome FROM runs');
    const perTask = new Map<string, number>();
    for (const r of runs) perTask.set(r.task_id, (perTask.get(r.task_id) ?? 0) + 1);
    const owners = new Map<string, number>();
    for (const r of runs) owners.set(r.owner, (owners.get(r.owner) ?? 0) + 1);
    console.log(`      runs: ${runs.length}; per process: ${[...owners.values()].join(' + ')}`);
    assert.equal(t.core.tasks.list().filter(x => x.status === 'completed').length, 100);
    assert.equal(runs.length, 100);
    assert.ok([...perTask.values()].every(n => n === 1), 'no task ran twice');
    assert.ok(runs.every(r => r.outcome === 'completed'));
  });

  it('cancel through the application layer and from another process both end the task cancelled within a second', async () => {
    await setup({ schedule: true, watch: true }); // this window watches the journal, as every VS Code window does
    const agent = await t.core.agents.create({ name: 'Ada', role: 'developer', model: MODEL });
    for (const route of ['app', 'process'] as const) {
      const task = t.core.tasks.create({ title: `cancel by ${route}`, assigneeId: agent.id });
      fake.script(MODEL, { content: 'thinking '.repeat(3000), pieceDelayMs: 10 });
      const running = t.core.app.runTask(task.id);
      await until('the run to stream', () => t.core.app.isRunning(task.id) && fake.counters.active > 0);
      let at = Date.now();
      if (route === 'app') t.core.app.cancel(task.id);
      else {
        const w = worker({ storage: t.storageDir, workspace: t.workspaceDir, mode: 'cancel', taskId: task.id });
        await until('the other process to cancel', () => w.lines.includes('cancelled'));
        at = Date.now();
        await w.exited;
      }
      const run = await running;
      console.log(`      cancel (${route}): run ended ${Date.now() - at} ms after the cancel`);
      assert.ok(Date.now() - at < 1000);
      assert.equal(run.outcome, 'cancelled');
      assert.equal(t.core.tasks.get(task.id).status, 'cancelled');
      assert.equal(t.core.agents.get(agent.id).status, 'ready');
      await until('the server to stop generating', () => fake.counters.active === 0, 5000);
    }
  });

  it('close with runs in flight waits for them: no run left running, no task in progress without a live lease', async () => {
    await setup({ slots: 2 });
    fake.options.defaultReply = { content: 'thinking '.repeat(3000), pieceDelayMs: 10 };
    const ids: string[] = [];
    for (const name of ['Ada', 'Bo']) {
      const a = await t.core.agents.create({ name, role: 'developer', model: MODEL });
      ids.push(t.core.tasks.create({ title: `work of ${name}`, assigneeId: a.id }).id);
    }
    const runs = ids.map(id => t.core.app.runTask(id).catch(e => e));
    await until('both runs to stream', () => fake.counters.active === 2);
    await t.core.close();
    const ended = await Promise.all(runs);
    assert.deepEqual(ended.map(r => r.outcome), ['interrupted', 'interrupted']);
    const core = await t.reopen();
    assert.equal(core.store.read.get<{ n: number }>(`SELECT COUNT(*) AS n FROM runs WHERE outcome = 'running'`)?.n, 0);
    for (const id of ids) {
      const task = core.tasks.get(id);
      assert.equal(task.status, 'pending', 'back in the queue, to be resumed');
      assert.equal(task.leaseOwner, null);
    }
    assert.ok(core.agents.list().every(a => a.status === 'ready'));
  });

  it('a provider that goes offline pauses its queue, says so on the task, and resumes by itself when it is back', async () => {
    await setup({ autoRun: true });
    t.core.providers.edit('ollama-local', { baseUrl: 'http://127.0.0.1:9' }); // nobody listens there
    await t.core.monitor.refresh('ollama-local');
    const agent = await t.core.agents.create({ name: 'Ada', role: 'developer', model: MODEL });
    const task = t.core.tasks.create({ title: 'waits for the server', assigneeId: agent.id });
    await until('the task to show why it waits', () => /^paused: Ollama \(this machine\) is offline/.test(t.core.app.queueInfo(task.id) ?? ''));
    assert.equal(t.core.tasks.get(task.id).status, 'pending');
    assert.equal(t.core.tasks.get(task.id).attempts, 0, 'no attempt spent on a server that is down');
    t.core.providers.edit('ollama-local', { baseUrl: fake.url }); // the server is back (here: at its address)
    await until('the queue to resume by itself', () => t.core.tasks.get(task.id).status === 'completed', 20_000);
    assert.equal(t.core.app.queueInfo(task.id), undefined);
  });

  it("every mutation's events are exact: unblocked dependents and unassigned tasks are announced", async () => {
    await setup({ schedule: false });
    const agent = await t.core.agents.create({ name: 'Ada', role: 'developer', model: MODEL });
    const a = t.core.tasks.create({ title: 'a' });
    const b = t.core.tasks.create({ title: 'b', dependsOn: [a.id], assigneeId: agent.id });
    const c = t.core.tasks.create({ title: 'c', assigneeId: agent.id });
    const seen: CoreChange[] = [];
    t.core.changes.event(e => seen.push(e));
    t.core.tasks.transition(a.id, 'in_progress');
    t.core.tasks.transition(a.id, 'completed', { result: 'ok' });
    const completed = seen[seen.length - 1];
    const tasksChanged = completed.changes.filter(x => x.entity === 'task').map(x => x.id);
    assert.deepEqual(tasksChanged, [a.id, b.id], 'the dependent that was unblocked is announced in the same event');
    assert.equal(t.core.tasks.get(b.id).status, 'pending');
    t.core.agents.delete(agent.id);
    const deleted = seen[seen.length - 1];
    assert.deepEqual(new Set(deleted.changes.filter(x => x.entity === 'task').map(x => x.id)), new Set([b.id, c.id]), 'the tasks it unassigned');
    assert.ok(deleted.changes.some(x => x.entity === 'agent' && x.op === 'deleted' && x.id === agent.id));
    assert.ok(seen.every((e, i) => i === 0 || e.seq > seen[i - 1].seq), 'sequence numbers increase');
    assert.ok(seen.every(e => e.changes.length > 0), 'no mutation without its records');
  });
});
