import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { ROUTES } from '../../../src/api/routes';
import type { Agent, Task } from '../../../src/core/model/schemas';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { call, EventClient, startHeadless, until, type Headless } from './helpers';

const MODEL = 'gemma3:1b';
const complete = (result: string) => asText({ tool: 'complete', args: { result } });

describe('local API over real HTTP and WebSocket, against the headless entry', function () {
  this.timeout(90_000);
  let h: Headless;
  let fake: FakeOllama;

  before(async () => {
    fake = await startFakeOllama({ defaultReply: { ...complete('done'), delayMs: 20 } });
    h = await startHeadless();
    const p = await call(h, 'PATCH', '/v1/providers/ollama-local', { body: { baseUrl: fake.url } });
    assert.equal(p.status, 200, JSON.stringify(p.body));
  });
  after(async () => {
    const code = await h?.stop();
    assert.equal(code, 0, h?.stderr());
    h?.cleanup();
    await fake?.close();
  });

  it("a task's whole life through REST while a WebSocket client receives every change in order; a reconnecting client gets exactly what it missed", async () => {
    const live = new EventClient(h);
    await live.opened;
    await until('hello', () => live.messages.length > 0);
    const start = live.hello();

    const agent = (await call<Agent>(h, 'POST', '/v1/agents', { body: { name: 'Ada', role: 'developer', skills: ['js'], model: MODEL } })).body;
    assert.ok(agent.id);
    // A second client that will drop out and come back.
    const away = new EventClient(h, `?since=${start}`);
    await away.opened;
    const created = await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'write a', requiredSkills: ['js'], attachments: [] } });
    assert.equal(created.status, 201);
    const task = created.body;
    await until('the away client to see the task', () => away.changes().some(c => c.changes.some(x => x.entity === 'task' && x.id === task.id)));
    await away.close();
    const lastSeen = away.changes().at(-1)!.seq;

    const assigned = await call<Task>(h, 'POST', `/v1/tasks/${task.id}/assign`, { body: { agentId: agent.id } });
    assert.equal(assigned.status, 200);
    assert.equal(assigned.body.assigneeId, agent.id);
    fake.script(MODEL, { ...asText({ tool: 'write_file', args: { path: 'src/a.js', content: 'module.exports = 1;\n' } }), delayMs: 20 }, complete('a.js written'));
    const run = await call(h, 'POST', `/v1/tasks/${task.id}/run`);
    assert.equal(run.status, 202, JSON.stringify(run.body));
    await until('the task to complete', async () => (await call<Task>(h, 'GET', `/v1/tasks/${task.id}`)).body.status === 'completed');
    const details = (await call(h, 'GET', `/v1/tasks/${task.id}/details`)).body;
    assert.match(details.task.result ?? '', /^a\.js written/); // (a run without tests says so after the result)
    assert.equal(details.runs.length, 1);
    assert.equal(details.runs[0].outcome, 'completed');
    assert.ok(details.updates.some((u: { body: string }) => /write_file src\/a\.js/.test(u.body)));
    assert.equal(fs.readFileSync(path.join(h.workspace, 'agents/ada/src/a.js'), 'utf8'), 'module.exports = 1;\n');

    // Every change, in order, with increasing sequence numbers: the live client saw what the log holds.
    const replay = new EventClient(h, `?since=${start}`);
    await replay.opened;
    await until('the replay', () => replay.changes().length >= live.changes().length && live.changes().length > 0);
    const seqs = live.changes().map(c => c.seq);
    assert.ok(seqs.every((s, i) => i === 0 || s > seqs[i - 1]!), `increasing: ${seqs.join(',')}`);
    assert.ok(seqs[0]! > start);
    assert.deepEqual(replay.changes().map(c => [c.seq, c.changes]), live.changes().map(c => [c.seq, c.changes]));
    const kinds = new Set(live.changes().flatMap(c => c.changes.map(x => `${x.entity}.${x.op}`)));
    for (const k of ['agent.created', 'task.created', 'task.updated', 'update.created', 'run.created', 'run.updated']) assert.ok(kinds.has(k), `saw ${k}: ${[...kinds].join(', ')}`);
    const completedAt = live.changes().findIndex(c => c.changes.some(x => x.entity === 'run' && x.op === 'updated'));
    assert.ok(completedAt > 0);

    // The client that dropped out comes back with its last sequence number: exactly what it missed.
    const back = new EventClient(h, `?since=${lastSeen}`);
    await back.opened;
    const missed = live.changes().filter(c => c.seq > lastSeen);
    await until('the missed events', () => back.changes().length >= missed.length);
    await new Promise(r => setTimeout(r, 100));
    assert.deepEqual(back.changes().map(c => [c.seq, c.changes]), missed.map(c => [c.seq, c.changes]));

    // Filtered by task: only that task's records.
    const other = (await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'another' } })).body;
    const byTask = new EventClient(h, `?since=${start}&taskId=${task.id}`);
    await byTask.opened;
    await until('the filtered replay', () => byTask.changes().length > 0);
    await new Promise(r => setTimeout(r, 100));
    for (const c of byTask.changes()) for (const x of c.changes) assert.equal(x.entity === 'task' ? x.id : x.taskId, task.id);
    assert.ok(!byTask.changes().some(c => c.changes.some(x => x.id === other.id)));
    await Promise.all([live.close(), replay.close(), back.close(), byTask.close()]);
  });

  it('change sets: an attached file the agent changed is listed, diffed, and accepted or rejected through REST', async () => {
    fs.mkdirSync(path.join(h.workspace, 'lib'), { recursive: true });
    fs.writeFileSync(path.join(h.workspace, 'lib/a.txt'), 'one\n');
    fs.writeFileSync(path.join(h.workspace, 'lib/b.txt'), 'two\n');
    const agent = (await call<Agent>(h, 'POST', '/v1/agents', { body: { name: 'Editor', role: 'developer', model: MODEL } })).body;
    const task = (await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'edit two files', attachments: ['lib/a.txt', 'lib/b.txt'], assigneeId: agent.id } })).body;
    fake.script(
      MODEL,
      asText({ tool: 'write_file', args: { path: 'lib/a.txt', content: 'ONE\n' } }),
      asText({ tool: 'write_file', args: { path: 'lib/b.txt', content: 'TWO\n' } }),
      complete('both'),
    );
    await call(h, 'POST', `/v1/tasks/${task.id}/run`);
    await until('the task to complete', async () => (await call<Task>(h, 'GET', `/v1/tasks/${task.id}`)).body.status === 'completed');
    const list = (await call(h, 'GET', `/v1/tasks/${task.id}/changes`)).body;
    assert.deepEqual(list.map((c: { path: string; status: string }) => [c.path, c.status]), [['lib/a.txt', 'proposed'], ['lib/b.txt', 'proposed']]);
    const diff = (await call(h, 'GET', `/v1/tasks/${task.id}/changes/diff?path=lib/a.txt`)).body;
    assert.match(diff.diff, /-one\n\+ONE/);
    const accepted = await call(h, 'POST', `/v1/tasks/${task.id}/changes/accept`, { body: { paths: ['lib/a.txt'] } });
    assert.equal(accepted.status, 200, JSON.stringify(accepted.body));
    assert.equal(accepted.body[0].status, 'accepted');
    assert.equal(fs.readFileSync(path.join(h.workspace, 'lib/a.txt'), 'utf8'), 'ONE\n');
    fs.writeFileSync(path.join(h.workspace, 'lib/b.txt'), 'two, edited meanwhile\n');
    const conflict = (await call(h, 'POST', `/v1/tasks/${task.id}/changes/accept`)).body;
    assert.equal(conflict[0].status, 'conflict');
    assert.match(conflict[0].conflict, /lib\/b\.txt changed since the agent read it/);
    assert.equal(fs.readFileSync(path.join(h.workspace, 'lib/b.txt'), 'utf8'), 'two, edited meanwhile\n');
    assert.equal((await call(h, 'POST', `/v1/tasks/${task.id}/changes/reject`, { body: { paths: ['lib/b.txt'] } })).body[0].status, 'rejected');
    assert.equal((await call(h, 'POST', `/v1/tasks/${task.id}/changes/accept`, { body: { paths: ['lib/b.txt'] } })).status, 409);
  });

  it('a client too far behind (or ahead) is told to reload', async () => {
    const c = new EventClient(h, '?since=999999999');
    await c.opened;
    await until('messages', () => c.messages.length >= 2);
    assert.equal(c.messages[1]!.type, 'reload');
    await c.close();
  });

  describe('refusals leave the store unchanged', () => {
    async function snapshot(): Promise<string> {
      const ws = new EventClient(h);
      await ws.opened;
      await until('hello', () => ws.messages.length > 0);
      const seq = ws.hello();
      await ws.close();
      const tasks = (await call(h, 'GET', '/v1/tasks?limit=500')).body;
      const agents = (await call(h, 'GET', '/v1/agents?limit=500')).body;
      return JSON.stringify({ seq, tasks, agents });
    }
    let before: string;
    beforeEach(async () => (before = await snapshot()));
    afterEach(async () => assert.equal(await snapshot(), before, 'the store changed'));

    it('401 without a token and with a wrong one (REST, MCP and WebSocket)', async () => {
      for (const token of [null, 'wrong', `${'x'.repeat(43)}`, '']) {
        const r = await call(h, 'POST', '/v1/tasks', { body: { title: 'nope' }, token });
        assert.equal(r.status, 401, JSON.stringify(r.body));
        assert.equal(r.body.code, 'unauthorized');
        assert.equal(typeof r.body.message, 'string');
      }
      assert.equal((await call(h, 'GET', '/v1/openapi.json', { token: null })).status, 401);
      assert.equal((await call(h, 'POST', '/mcp', { body: { jsonrpc: '2.0', id: 1, method: 'tools/list' }, token: 'wrong' })).status, 401);
      for (const token of [null, 'wrong']) {
        const ws = new EventClient(h, '', { token });
        await assert.rejects(ws.opened, (e: { status?: number }) => e.status === 401);
      }
    });

    it('403 for a foreign Host, including a rebinding name on the right port, and a foreign Origin (REST and WebSocket)', async () => {
      for (const host of [`attacker.example:${h.port}`, `localhost.attacker.example:${h.port}`, `127.0.0.1.nip.io:${h.port}`, 'attacker.example', `127.0.0.1:${h.port + 1}`, `[::1]:1`]) {
        const r = await call(h, 'POST', '/v1/tasks', { body: { title: 'rebound' }, headers: { host } });
        assert.equal(r.status, 403, host);
        assert.equal(r.body.code, 'forbidden_host');
        const ws = new EventClient(h, '', { host });
        await assert.rejects(ws.opened, (e: { status?: number }) => e.status === 403, host);
      }
      for (const origin of ['http://attacker.example', `http://attacker.example:${h.port}`, 'null', `https://127.0.0.1:${h.port}`, `http://127.0.0.1:${h.port + 1}`]) {
        const r = await call(h, 'POST', '/v1/tasks', { body: { title: 'cross-site' }, headers: { origin } });
        assert.equal(r.status, 403, origin);
        assert.equal(r.body.code, 'forbidden_origin');
        const ws = new EventClient(h, '', { origin });
        await assert.rejects(ws.opened, (e: { status?: number }) => e.status === 403, origin);
      }
      // The server's own origin and the loopback names pass.
      const ws = new EventClient(h, '', { origin: `http://localhost:${h.port}`, host: `localhost:${h.port}` });
      await ws.opened;
      await ws.close();
    });

    it('400 for malformed JSON, wrong types and unknown fields; 413 for an oversize body; 415 for a body that is not JSON', async () => {
      const bad: Array<[string, string, { body?: unknown; raw?: string }, string]> = [
        ['POST', '/v1/tasks', { raw: '{"title": "x",' }, 'bad_json'],
        ['POST', '/v1/tasks', { raw: 'null' }, 'validation'],
        ['POST', '/v1/tasks', { body: { title: 42 } }, 'validation'],
        ['POST', '/v1/tasks', { body: { title: 'x', priority: 'high' } }, 'validation'],
        ['POST', '/v1/tasks', { body: { title: 'x', attachments: 'a.js' } }, 'validation'],
        ['POST', '/v1/tasks', { body: { title: 'x', status: 'completed' } }, 'validation'],
        ['POST', '/v1/tasks', { body: { title: 'x', evil: true } }, 'validation'],
        ['POST', '/v1/agents', { body: { name: 'Bo', role: 'dev', model: MODEL, enabled: false } }, 'validation'],
        ['POST', '/v1/agents', { body: { name: '../escape', role: 'dev', model: MODEL } }, 'validation'],
        ['PATCH', '/v1/providers/ollama-local', { body: { baseUrl: 'file:///etc/passwd' } }, 'validation'],
        ['GET', '/v1/tasks?status=done', {}, 'validation'],
        ['GET', '/v1/tasks?limit=0', {}, 'validation'],
        ['GET', '/v1/tasks?colour=red', {}, 'validation'],
        ['POST', '/v1/tasks/x/retry', { body: { please: true } }, 'validation'],
      ];
      for (const [method, p, opts, code] of bad) {
        const r = await call(h, method, p, opts);
        assert.equal(r.status, 400, `${method} ${p} ${JSON.stringify(opts)}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.code, code, `${method} ${p}`);
        assert.ok(r.body.message.length > 5);
      }
      const unknown = await call(h, 'POST', '/v1/tasks', { body: { title: 'x', evil: true } });
      assert.match(unknown.body.message, /Unknown field in the body: evil/);
      const big = await call(h, 'POST', '/v1/tasks', { raw: JSON.stringify({ title: 'big', description: 'x'.repeat(2 * 1024 * 1024) }) });
      assert.equal(big.status, 413);
      assert.equal(big.body.code, 'payload_too_large');
      const text = await call(h, 'POST', '/v1/tasks', { raw: 'title=x', headers: { 'content-type': 'text/plain' } });
      assert.equal(text.status, 415);
      assert.equal((await call(h, 'GET', '/v1/nothing')).status, 404);
      assert.equal((await call(h, 'PUT', '/v1/tasks')).status, 405);
      assert.equal((await call(h, 'GET', '/v1/tasks/no-such-task')).status, 404);
    });
  });

  it('listens on loopback only', async () => {
    // The kernel's table of listening sockets names 127.0.0.1 (0100007F) for our port, nothing else.
    const hex = h.port.toString(16).toUpperCase().padStart(4, '0');
    for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
      if (!fs.existsSync(table)) continue;
      const listening = fs.readFileSync(table, 'utf8').split('\n').slice(1).map(l => l.trim().split(/\s+/)).filter(f => f[1]?.endsWith(`:${hex}`) && f[3] === '0A');
      for (const f of listening) assert.equal(f[1], `0100007F:${hex}`, `${table}: ${f[1]}`);
      if (table === '/proc/net/tcp') assert.equal(listening.length, 1);
    }
    // Another loopback address of this machine does not reach it.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const s = net.connect({ host: '127.0.0.2', port: h.port }, () => (s.destroy(), resolve(undefined)));
        s.on('error', reject);
      }),
      /ECONNREFUSED/,
    );
  });

  it('lists with filters and pages: status, assignee, updated since', async () => {
    const t0 = Date.now();
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await call<Task>(h, 'POST', '/v1/tasks', { body: { title: `page ${i}`, priority: 0 } })).body.id);
    const since = (await call(h, 'GET', `/v1/tasks?updatedSince=${t0}&status=pending&assignee=none&limit=2`)).body;
    assert.equal(since.items.length, 2);
    assert.ok(since.nextCursor);
    const rest = (await call(h, 'GET', `/v1/tasks?updatedSince=${t0}&status=pending&assignee=none&limit=2&cursor=${since.nextCursor}`)).body;
    const last = (await call(h, 'GET', `/v1/tasks?updatedSince=${t0}&status=pending&assignee=none&limit=2&cursor=${rest.nextCursor}`)).body;
    assert.equal(last.nextCursor, null);
    assert.deepEqual([...since.items, ...rest.items, ...last.items].map((t: Task) => t.id).filter(id => ids.includes(id)).sort(), [...ids].sort());
    assert.equal((await call(h, 'GET', '/v1/tasks?status=completed')).body.items.every((t: Task) => t.status === 'completed'), true);
    for (const id of ids) assert.equal((await call(h, 'DELETE', `/v1/tasks/${id}`)).status, 200);
  });

  it('/v1/stats serves the figures the dashboard draws, from the same core query', async () => {
    const r = await call<{ totals: { tasks: number }; agents: unknown[] }>(h, 'GET', '/v1/stats');
    assert.equal(r.status, 200);
    const tasks = (await call<{ items: Task[]; nextCursor: string | null }>(h, 'GET', '/v1/tasks?limit=500')).body.items;
    assert.equal(r.body.totals.tasks, tasks.length);
    assert.ok(Array.isArray(r.body.agents));
  });

  it('reviews act through the application layer: a task not in review is a conflict, findings are required', async () => {
    const t = (await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'review me' } })).body;
    const r = await call(h, 'POST', `/v1/tasks/${t.id}/approve`, { body: { summary: 'fine' } });
    assert.equal(r.status, 409, JSON.stringify(r.body));
    assert.equal((await call(h, 'POST', `/v1/tasks/${t.id}/request-changes`, { body: { findings: [] } })).status, 400);
    await call(h, 'DELETE', `/v1/tasks/${t.id}`);
  });

  it('/v1/openapi.json validates as OpenAPI 3 and covers every route', async () => {
    const doc = (await call(h, 'GET', '/v1/openapi.json')).body;
    assert.match(doc.openapi, /^3\./);
    const { validate } = await import('@readme/openapi-parser');
    const result = await validate(structuredClone(doc));
    assert.equal(result.valid, true, JSON.stringify((result as { errors?: unknown }).errors ?? result).slice(0, 2000));
    for (const r of ROUTES) assert.ok(doc.paths[r.path]?.[r.method.toLowerCase()], `${r.method} ${r.path} is documented`);
    for (const p of ['/v1/events', '/mcp', '/v1/openapi.json']) assert.ok(doc.paths[p], p);
    const documented = Object.entries(doc.paths).flatMap(([p, ops]) => Object.keys(ops as object).map(m => `${m.toUpperCase()} ${p}`));
    assert.equal(documented.length, ROUTES.length + 3);
    const create = doc.paths['/v1/tasks'].post.requestBody.content['application/json'].schema;
    const body = create.$ref ? doc.components.schemas[create.$ref.split('/').pop()] : create;
    assert.equal(body.additionalProperties, false, 'unknown fields are refused, and the document says so');
    assert.deepEqual(body.required, ['title']);
  });
});

describe('headless entry', function () {
  this.timeout(60_000);

  it('keeps the token in a file only the user may read, prints where it is, and Ctrl-C waits for a running task to reach a safe point', async () => {
    const fake = await startFakeOllama({ defaultReply: { content: 'thinking '.repeat(3000), pieceDelayMs: 10 } });
    const h = await startHeadless();
    try {
      if (process.platform !== 'win32') assert.equal(fs.statSync(h.tokenFile).mode & 0o777, 0o600);
      assert.equal(path.dirname(h.tokenFile), h.storage);
      assert.ok(h.stdout.some(l => l.includes(h.tokenFile)), 'it says where the token is');
      assert.ok(!h.stdout.join('\n').includes(h.token), 'and does not print the token itself');
      await call(h, 'PATCH', '/v1/providers/ollama-local', { body: { baseUrl: fake.url } });
      const agent = (await call<Agent>(h, 'POST', '/v1/agents', { body: { name: 'Slow', role: 'developer', model: MODEL } })).body;
      const task = (await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'long', assigneeId: agent.id } })).body;
      assert.equal((await call(h, 'POST', `/v1/tasks/${task.id}/run`)).status, 202);
      await until('the run to stream', () => fake.counters.active > 0);
      assert.equal(await h.stop(), 0, h.stderr());
      assert.ok(h.stdout.some(l => /waiting for 1 running task/.test(l)), h.stdout.join('\n'));
      // Restarted on the same folders with the same token: the task went back to the queue to be resumed.
      const again = await startHeadless([], { storage: h.storage, workspace: h.workspace });
      try {
        assert.equal(again.token, h.token);
        const t = (await call(again, 'GET', `/v1/tasks/${task.id}/details`)).body;
        assert.equal(t.task.status, 'pending');
        assert.deepEqual(t.runs.map((r: { outcome: string }) => r.outcome), ['interrupted']);
      } finally {
        await again.stop();
      }
    } finally {
      h.cleanup();
      await fake.close();
    }
  });

  it('refuses commands off the allowlist with the reason, unless --allow-commands', async () => {
    const fake = await startFakeOllama();
    try {
      for (const allow of [false, true]) {
        const h = await startHeadless(allow ? ['--allow-commands'] : []);
        try {
          await call(h, 'PATCH', '/v1/providers/ollama-local', { body: { baseUrl: fake.url } });
          const agent = (await call<Agent>(h, 'POST', '/v1/agents', { body: { name: 'Cmd', role: 'developer', model: MODEL } })).body;
          const task = (await call<Task>(h, 'POST', '/v1/tasks', { body: { title: 'run a command', assigneeId: agent.id } })).body;
          fake.script(MODEL, asText({ tool: 'run_command', args: { command: 'node -e "console.log(6*7)"' } }), complete('ran it'));
          await call(h, 'POST', `/v1/tasks/${task.id}/run`);
          await until('the task to complete', async () => (await call<Task>(h, 'GET', `/v1/tasks/${task.id}`)).body.status === 'completed');
          const updates = (await call(h, 'GET', `/v1/tasks/${task.id}/updates`)).body.items.map((u: { body: string }) => u.body).join('\n');
          const toModel = JSON.stringify(fake.requestsTo('/api/chat').at(-1)!.body.messages);
          if (allow) {
            assert.doesNotMatch(updates, /refused/);
            assert.match(toModel, /42/, 'the command ran');
          } else {
            assert.match(updates, /run_command: The command "node -e .*" was refused: it is not on the allowlist of commands, and no one is here to approve it .*--allow-commands/);
            assert.match(toModel, /was refused/);
          }
        } finally {
          await h.stop();
          h.cleanup();
        }
      }
    } finally {
      await fake.close();
    }
  });

  it('refuses a token file others may read, and says why', async () => {
    const h = await startHeadless();
    await h.stop();
    fs.chmodSync(h.tokenFile, 0o644);
    await assert.rejects(startHeadless([], { storage: h.storage, workspace: h.workspace }), /may be read by other users/);
    h.cleanup();
  });
});
