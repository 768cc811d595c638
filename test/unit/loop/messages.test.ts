import * as assert from 'node:assert/strict';
import { sandboxSetup } from '../sandbox/setup';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAgentLoop, type LoopEvent, type LoopInput } from '../../../src/core/loop/agentLoop';
import { createProvider, looksTruncated, OllamaProvider, OpenAiProvider, TIMEOUT_SETTINGS } from '../../../src/core/providers';
import type { ChatRequest } from '../../../src/core/providers/types';
import { createToolRegistry, runCommand } from '../../../src/core/tools';
import { formatDuration } from '../../../src/core/util';
import { PathSandbox } from '../../../src/core/workspace/sandbox';
import { startFakeOllama, type FakeOllama, type FakeOllamaOptions, type ScriptedReply } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { rejectsWith } from '../providers/helpers';

const never = () => new AbortController().signal;
const req = (model: string): ChatRequest => ({ model, messages: [{ role: 'user', content: 'hi' }], options: {} });

/** A server that accepts a request and then breaks the connection: before any header, or after the first piece. */
async function dropping(when: 'before' | 'during'): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((q, res) => {
    q.resume();
    q.on('end', () => {
      if (when === 'before') return q.socket.destroy();
      res.writeHead(200, { 'Content-Type': q.url?.startsWith('/v1') ? 'text/event-stream' : 'application/x-ndjson' });
      res.write(q.url?.startsWith('/v1') ? 'data: {"choices":[{"delta":{"content":"Hel"}}]}\n\n' : '{"model":"m","message":{"role":"assistant","content":"Hel"},"done":false}\n');
      setTimeout(() => q.socket.destroy(), 20);
    });
  });
  await new Promise<void>(r => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>(r => (server.closeAllConnections(), server.close(() => r()))),
  };
}

describe('run messages that are true', function () {
  this.timeout(30_000);
  let fake: FakeOllama;
  let live = false;
  let dir: string;
  const start = async (opts: FakeOllamaOptions = {}) => {
    if (live) await fake.close();
    fake = await startFakeOllama(opts);
    live = true;
  };
  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-msg-'));
  });
  afterEach(async () => {
    if (live) await fake.close();
    live = false;
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function input(model: string, over: Partial<LoopInput> = {}): LoopInput {
    return {
      provider: createProvider({ kind: 'ollama', baseUrl: live ? fake.url : 'http://127.0.0.1:9' }),
      model,
      tools: createToolRegistry(),
      protocol: 'text',
      system: p => `system (${p})`,
      task: 'Write src/a.js',
      toolContext: {
        sandbox: new PathSandbox({ workspaceRoots: [dir], writeRoot: dir }), cwd: dir, runCommand,
        approve: async () => false, trusted: true, allowlist: [], onProgress: () => {}, sendMessage: () => {},
      },
      sleep: async () => {},
      ...over,
    };
  }

  async function run(model: string, replies: ScriptedReply[], over: Partial<LoopInput> = {}, opts: FakeOllamaOptions = {}) {
    if (!live) await start(opts);
    fake.script(model, ...replies);
    const events: LoopEvent[] = [];
    const r = await runAgentLoop(input(model, over), new AbortController().signal, e => events.push(e));
    return { r, events };
  }

  const write = (i: number) => asText({ tool: 'write_file', args: { path: `f${i}.txt`, content: `${i}` } });
  const complete = asText({ tool: 'complete', args: { result: 'done' } });

  describe('retries', () => {
    beforeEach(() => start());

    it('retry lines say a retry follows and which one; the final reason says the retries are used up', async () => {
      const busy: ScriptedReply = { status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' };
      const { r, events } = await run('gemma3:1b', [busy, busy, busy, busy, busy]);
      assert.equal(r.outcome, 'error');
      assert.equal(r.errorKind, 'busy');
      assert.match(r.reason!, /is busy .* Gave up after 4 attempts\.$/);
      assert.doesNotMatch(r.reason!, /will retry/i);
      const retries = events.filter(e => e.type === 'retry') as Array<Extract<LoopEvent, { type: 'retry' }>>;
      assert.deepEqual(retries.map(e => [e.attempt, e.of]), [[1, 3], [2, 3], [3, 3]]);
      assert.ok(retries.every(e => !/will retry/i.test(e.reason)), 'the reason of a retry does not repeat itself');
    });

    it('a broken stream that then works needs no apology', async () => {
      const { r } = await run('gemma3:1b', [{ content: 'partial', endWithoutDone: true }, complete]);
      assert.equal(r.outcome, 'completed');
    });
  });

  describe('a dropped connection is one kind, however it shows', () => {
    for (const when of ['before', 'during'] as const) {
      for (const kind of ['ollama', 'openai'] as const) {
        it(`${kind}: dropped ${when} the reply -> connection_lost, retryable`, async () => {
          const s = await dropping(when);
          try {
            const p = kind === 'ollama' ? new OllamaProvider({ baseUrl: s.url }) : new OpenAiProvider({ baseUrl: s.url });
            const e = await rejectsWith(p.chat(req('m'), never()), 'connection_lost');
            assert.equal(e.retryable, true);
            assert.match(e.message, when === 'during' ? /was lost in the middle of the reply/ : /was lost before the reply/);
            assert.doesNotMatch(e.message, /will retry/i);
          } finally {
            await s.close();
          }
        });
      }
    }

    it('the loop retries it, then gives up saying so', async () => {
      const s = await dropping('before');
      try {
        const events: LoopEvent[] = [];
        const r = await runAgentLoop({ ...input('m'), provider: new OllamaProvider({ baseUrl: s.url }) }, never(), e => events.push(e));
        assert.equal(r.outcome, 'error');
        assert.equal(r.errorKind, 'connection_lost');
        assert.match(r.reason!, /Gave up after 4 attempts/);
        assert.equal(events.filter(e => e.type === 'retry').length, 3);
      } finally {
        await s.close();
      }
    });
  });

  describe('timeouts', () => {
    beforeEach(() => start());

    it('the time budget stops a model call that has not answered (headers held), and says how long in seconds', async () => {
      const t0 = Date.now();
      const { r } = await run('gemma3:1b', [{ content: 'late', stallAfter: 0 }], { budgets: { maxWallMs: 1500 } });
      const took = Date.now() - t0;
      assert.equal(r.outcome, 'failed');
      assert.equal(r.errorKind, 'time_budget');
      assert.equal(r.reason, 'Stopped after 2 seconds (the time budget) without completing. Raise the time budget or split the task.');
      assert.ok(took < 5000, `took ${took} ms`);
      await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'the server to see the abort');
    });

    it('a budget longer than a timer can hold does not end the run at once', async () => {
      const { r } = await run('gemma3:1b', [write(1), complete], { budgets: { maxWallMs: 1e12 } });
      assert.equal(r.outcome, 'completed', r.reason);
    });

    it('the time budget also ends retries and their waits', async () => {
      const busy: ScriptedReply = { status: 503, error: 'server busy' };
      const t0 = Date.now();
      const { r } = await run('gemma3:1b', [busy, busy, busy, busy], { sleep: undefined, budgets: { maxWallMs: 1000, retryBaseMs: 5000 } });
      assert.equal(r.errorKind, 'time_budget');
      assert.ok(Date.now() - t0 < 4000);
    });

    it('a first-token timeout names the setting that raises it', async () => {
      fake.script('gemma3:1b', { content: 'late', stallAfter: 0 });
      const p = new OllamaProvider({ baseUrl: fake.url, firstTokenTimeoutMs: 300 });
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'timeout');
      assert.match(e.message, /No first token from gemma3:1b .* within 0 s\..*raise the setting ai2ai\.models\.firstTokenTimeoutSeconds\./);
      assert.equal(TIMEOUT_SETTINGS.firstToken, 'ai2ai.models.firstTokenTimeoutSeconds');
      fake.script('gemma3:1b', { content: 'one two three four five', stallAfter: 2 });
      const idle = await rejectsWith(new OllamaProvider({ baseUrl: fake.url, idleTimeoutMs: 300 }).chat(req('gemma3:1b'), never()), 'timeout');
      assert.match(idle.message, /No next token .*ai2ai\.models\.idleTimeoutSeconds/);
    });

    it('durations read as a person says them', () => {
      assert.equal(formatDuration(5000), '5 seconds');
      assert.equal(formatDuration(1000), '1 second');
      assert.equal(formatDuration(60_000), '1 minute');
      assert.equal(formatDuration(150_000), '2 minutes 30 seconds');
      assert.equal(formatDuration(30 * 60_000), '30 minutes');
      assert.equal(formatDuration(3_900_000), '1 hour 5 minutes');
    });
  });

  describe('tests before complete', () => {
    beforeEach(() => start());

    it('a run that completes without any test says so', async () => {
      const { r, events } = await run('gemma3:1b', [write(1), complete]);
      assert.equal(r.outcome, 'completed');
      assert.equal(r.testsRan, false);
      assert.ok(events.some(e => e.type === 'no_tests'));
    });

    it('a node --test folder is tested before complete is accepted', async () => {
      fs.mkdirSync(path.join(dir, 'tests'));
      fs.writeFileSync(path.join(dir, 'tests', 'a.test.js'), "require('node:test')('a', () => {});\n");
      // Tests run in the OS sandbox, as in the extension (allowlisted ones without asking).
      const { r, events } = await run('gemma3:1b', [complete], { toolContext: { ...input('gemma3:1b').toolContext, allowlist: ['node --test'], commands: await sandboxSetup() } });
      assert.equal(r.outcome, 'completed', r.reason);
      assert.equal(r.testsRan, true);
      assert.equal(r.testsPassed, 1);
      assert.ok(!events.some(e => e.type === 'no_tests'));
    });
  });

  describe('prompt counts, the prompt cache and truncation', () => {
    /** A conversation past half of a 2,048 window (but under the 75 % where old output is condensed). */
    const long = { task: `Context:\n${'lorem ipsum dolor sit amet '.repeat(170)}`, budgets: { numCtx: 2048 } };

    it('old servers (only uncached tokens counted): a long, cached conversation is neither reported truncated nor condensed', async () => {
      const { r, events } = await run('gemma3:1b', [write(1), write(2), write(3), write(4), complete], long, { promptCountMode: 'old' });
      assert.equal(r.outcome, 'completed', r.reason);
      const chats = fake.generations.filter(g => g.model === 'gemma3:1b');
      assert.ok(chats.length === 5 && chats.slice(1).every(g => g.cachedTokens > 1000), 'the prompts were served from the cache');
      assert.ok(chats.slice(1).every(g => g.evaluatedTokens < 200), 'and the server counted only the new part');
      assert.deepEqual(events.filter(e => e.type === 'truncated' || e.type === 'condensed'), []);
      assert.equal(r.cachedTokens, 0, 'old servers do not say what was cached');
    });

    it('new servers: the cached tokens are summed for the run; a long conversation is not truncated either', async () => {
      const { r, events } = await run('gemma3:1b', [write(1), write(2), write(3), complete], long);
      assert.equal(r.outcome, 'completed', r.reason);
      assert.deepEqual(events.filter(e => e.type === 'truncated' || e.type === 'condensed'), []);
      const cached = fake.generations.reduce((s, g) => s + g.cachedTokens, 0);
      assert.ok(cached > 3000);
      assert.equal(r.cachedTokens, cached);
    });

    it('a real cut is still reported, on old and new servers', async () => {
      for (const mode of ['old', 'new'] as const) {
        await start({ promptCountMode: mode });
        const p = new OllamaProvider({ baseUrl: fake.url });
        const big = await p.chat({ ...req('gemma3:1b'), messages: [{ role: 'user', content: 'x'.repeat(12_000) }], options: { numCtx: 2048 } }, never());
        assert.equal(fake.counters.truncated, 1);
        assert.equal(big.truncated, true, mode);
      }
    });

    it('looksTruncated: only when a cut can have happened', () => {
      const base = { numCtx: 2048, cachedCount: undefined };
      assert.equal(looksTruncated({ ...base, estimate: 900, promptEvalCount: 100 }), false, 'under half the window: cannot overflow');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 1200 }), false, 'within the estimate error');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 0 }), false, 'no count');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 400 }), true, 'nothing could be cached: a cut');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 60, uncachedEstimate: 50 }), false, 'old server, cache hit');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 1000 - 4, uncachedEstimate: 50 }), true, 'old server, far more than the new part: a cut');
      assert.equal(looksTruncated({ ...base, estimate: 1500, promptEvalCount: 400, cachedCount: 350, uncachedEstimate: 50 }), true, 'new server: the count is the whole prompt');
    });
  });
});
