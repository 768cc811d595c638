/**
 * The fake's slots, loaded models and prompt cache, checked over real HTTP: what a scheduler and a
 * benchmark of it will rely on (facts/ollama.md behaviours 5, 6 and 10).
 */
import * as assert from 'node:assert/strict';
import * as http from 'node:http';
import { FakeOllama, FakeOllamaOptions, commonPrefix, countPromptTokens, pieces, promptTokens, startFakeOllama } from '../../fake-ollama/server';

type Msg = { role: string; content: string };

interface ChatResult {
  status: number;
  /** The final chunk (native stream), the whole object (non-stream and /v1). */
  final: any;
  /** Real ms from sending the request to its response headers (the first token when streaming). */
  headersMs: number;
}

/** POSTs over node:http and logs `<name>:headers` and `<name>:end` in the order they happen. */
function post(fake: FakeOllama, body: unknown, opts: { path?: string; log?: string[]; name?: string } = {}): Promise<ChatResult> {
  const { path = '/api/chat', log, name = '?' } = opts;
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const req = http.request(`${fake.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' } }, res => {
      log?.push(`${name}:headers`);
      const headersMs = Date.now() - t0;
      let text = '';
      res.setEncoding('utf8');
      res.on('data', d => (text += d));
      res.on('end', () => {
        log?.push(`${name}:end`);
        const lines = text.trim().split('\n').filter(Boolean).map(l => JSON.parse(l));
        resolve({ status: res.statusCode ?? 0, final: lines[lines.length - 1], headersMs });
      });
    });
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

const chat = (fake: FakeOllama, model: string, messages: Msg[], extra: Record<string, unknown> = {}, o: { log?: string[]; name?: string } = {}) =>
  post(fake, { model, messages, ...extra }, o);

const before = (log: string[], a: string, b: string) => {
  assert.ok(log.includes(a) && log.includes(b), `${a} and ${b} in ${log.join(' ')}`);
  assert.ok(log.indexOf(a) < log.indexOf(b), `${a} before ${b}: ${log.join(' ')}`);
};

const G = 'gemma3:1b';
const D = 'deepseek-coder-v2:16b';
const Q = 'qwen2.5-coder:7b';
const system = (who: string) => ({ role: 'system', content: `You are ${who}. ${'Follow the rules. '.repeat(60)}` });
const user = (content: string) => ({ role: 'user', content });
const assistant = (content: string) => ({ role: 'assistant', content });

describe('fake Ollama: slots, loaded models and the prompt cache', () => {
  let fake: FakeOllama;
  const start = async (o: FakeOllamaOptions = {}) => (fake = await startFakeOllama(o));
  afterEach(() => fake?.close());

  describe('slots and queue', () => {
    it('a 1-slot model: the second request gets no headers until the first ends', async () => {
      await start();
      fake.script(G, { content: 'x'.repeat(120), pieceDelayMs: 3 }, { content: 'second' });
      const log: string[] = [];
      const a = chat(fake, G, [user('one')], {}, { log, name: 'A' });
      await fake.waitFor(() => fake.counters.activeByModel[G] === 1, 5000, 'A active');
      const b = chat(fake, G, [user('two')], {}, { log, name: 'B' });
      await fake.waitFor(() => fake.counters.queuedByModel[G] === 1, 5000, 'B queued');
      assert.ok(!log.includes('B:headers'), 'no headers while queued');
      await Promise.all([a, b]);
      before(log, 'A:end', 'B:headers');
      assert.equal(fake.counters.maxActiveByModel[G], 1);
      assert.equal(fake.counters.queuedByModel[G], 0);
      assert.equal(fake.counters.maxQueued, 1);
    });

    it('slots are per model: in flight per model never exceeds its slots, models run side by side', async () => {
      await start({ numParallel: 2 });
      fake.onChat(() => ({ content: 'y'.repeat(40), pieceDelayMs: 2 }));
      fake.addModel({ ...fake.options.models.find(m => m.name === Q)!, numParallel: 1 });
      const all = [
        ...[1, 2, 3, 4, 5].map(i => chat(fake, G, [user(`g${i}`)])),
        ...[1, 2, 3].map(i => chat(fake, Q, [user(`q${i}`)])),
      ];
      const results = await Promise.all(all);
      assert.ok(results.every(r => r.status === 200 && r.final.done === true));
      assert.equal(fake.counters.maxActiveByModel[G], 2);
      assert.equal(fake.counters.maxActiveByModel[Q], 1, "the model's own numParallel");
      assert.equal(fake.counters.maxActive, 3);
      assert.deepEqual(fake.counters.activeByModel, { [G]: 0, [Q]: 0 });
      assert.equal(fake.counters.loads, 2);
      assert.deepEqual(fake.slots(G).map(s => s.id), [0, 1]);
    });

    it('a full queue answers the exact 503, counting requests that wait for a slot', async () => {
      await start({ maxQueue: 1 });
      fake.script(G, { content: 'a b c', stallAfter: 1 });
      const ctl = new AbortController();
      const first = fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: G, messages: [user('1')] }), signal: ctl.signal }).catch(e => e);
      await fake.waitFor(() => fake.counters.active === 1, 5000, 'first active');
      const second = fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: G, messages: [user('2')] }), signal: ctl.signal }).catch(e => e);
      await fake.waitFor(() => fake.counters.queued === 1, 5000, 'second queued');
      const third = await chat(fake, G, [user('3')]);
      assert.equal(third.status, 503);
      assert.equal(third.final.error, 'server busy, please try again.  maximum pending requests exceeded');
      ctl.abort();
      await Promise.all([first, second]);
      await fake.waitFor(() => fake.counters.active === 0 && fake.counters.queued === 0, 5000, 'freed');
      assert.equal(fake.counters.abortedWhile.queued, 1);
    });
  });

  describe('loaded models: /api/ps, keep_alive, swaps', () => {
    const ps = async () => ((await (await fetch(`${fake.url}/api/ps`)).json()) as any).models as any[];

    it('/api/ps lists a model after use with expires_at and sizes, and not after keep_alive runs out', async () => {
      await start();
      assert.deepEqual(await ps(), []);
      const t = Date.now();
      await chat(fake, G, [user('hi')], { keep_alive: '300ms' });
      const [m] = await ps();
      assert.equal(m.name, G);
      assert.equal(m.size, 815_319_791);
      assert.equal(m.size_vram, 815_319_791);
      assert.equal(m.context_length, 4096);
      const left = Date.parse(m.expires_at) - t;
      assert.ok(left > 0 && left < 2000, `expires ~300 ms after use (${left})`);
      await fake.waitFor(() => fake.counters.unloadsByModel[G] === 1, 5000, 'keep_alive expiry');
      assert.deepEqual(await ps(), []);
      assert.equal(fake.counters.evictions, 0);
    });

    it('keep_alive: the default is 5 min; a request without one keeps what the model has; 0 unloads after the request', async () => {
      await start();
      await chat(fake, G, [user('a')]);
      const left = Date.parse((await ps())[0].expires_at) - Date.now();
      assert.ok(left > 290_000 && left <= 300_000, `5 min (${left})`);
      await chat(fake, G, [user('b')], { keep_alive: -1 });
      await chat(fake, G, [user('c')]);
      assert.equal((await ps())[0].expires_at, '2318-01-01T00:00:00Z', 'still kept forever');
      await chat(fake, G, [user('d')], { keep_alive: 0 });
      assert.deepEqual(await ps(), []);
      const cold = await chat(fake, G, [user('e')]);
      assert.ok(cold.final.load_duration >= 3e9, 'loaded again');
      assert.deepEqual([fake.counters.loadsByModel[G], fake.counters.unloadsByModel[G]], [2, 1]);
    });

    it('a swap: with one model allowed, a second model costs a load and evicts the first', async () => {
      await start({ maxLoadedModels: 1 });
      const a = await chat(fake, G, [user('a')]);
      assert.ok(a.final.load_duration >= 3e9, 'cold');
      const warm = await chat(fake, G, [user('a2')]);
      assert.ok(warm.final.load_duration < 1e8, 'warm');
      const d = await chat(fake, D, [user('d')]);
      assert.ok(d.final.load_duration >= 3e9, 'the swap costs a load');
      assert.deepEqual((await ps()).map(m => m.name), [D]);
      assert.equal(fake.counters.evictionsByModel[G], 1);
      const back = await chat(fake, G, [user('back')]);
      assert.ok(back.final.load_duration >= 3e9, 'and back again');
      assert.deepEqual([fake.counters.loads, fake.counters.evictions, fake.counters.evictionsByModel[D]], [3, 2, 1]);
      assert.deepEqual(fake.generations.map(g => g.coldLoad), [true, false, true, true]);
    });

    it('a swap waits for the busy model to finish, and later requests wait behind it even for that model', async () => {
      await start({ maxLoadedModels: 1 });
      fake.script(G, { content: 'z'.repeat(80), pieceDelayMs: 3 }, { content: 'c' });
      const log: string[] = [];
      const a = chat(fake, G, [user('a')], {}, { log, name: 'A' });
      await fake.waitFor(() => fake.counters.activeByModel[G] === 1, 5000, 'A running');
      const b = chat(fake, D, [user('b')], {}, { log, name: 'B' });
      await fake.waitFor(() => fake.counters.queuedByModel[D] === 1, 5000, 'B waits for the swap');
      const c = chat(fake, G, [user('c')], {}, { log, name: 'C' });
      await fake.waitFor(() => fake.counters.queuedByModel[G] === 1, 5000, 'C waits behind B');
      await Promise.all([a, b, c]);
      before(log, 'A:end', 'B:headers');
      before(log, 'B:end', 'C:headers');
      assert.deepEqual([fake.counters.loadsByModel[G], fake.counters.loadsByModel[D], fake.counters.evictions], [2, 1, 2]);
    });

    it('a request cancelled while it waits for a swap leaves the queue; the swap still happens for the next', async () => {
      await start({ maxLoadedModels: 1 });
      fake.script(G, { content: 'z'.repeat(80), pieceDelayMs: 3 });
      const a = chat(fake, G, [user('a')]);
      await fake.waitFor(() => fake.counters.activeByModel[G] === 1, 5000, 'A running');
      const ctl = new AbortController();
      const b = fetch(`${fake.url}/api/chat`, { method: 'POST', body: JSON.stringify({ model: D, messages: [user('b')] }), signal: ctl.signal });
      await fake.waitFor(() => fake.counters.queuedByModel[D] === 1, 5000, 'B waits for the swap');
      ctl.abort();
      await assert.rejects(b, (e: Error) => e.name === 'AbortError');
      await fake.waitFor(() => fake.counters.abortedWhile.queued === 1 && fake.counters.queued === 0, 5000, 'B left the queue');
      const c = await chat(fake, D, [user('c')]);
      assert.equal(c.final.done, true);
      await a;
      assert.deepEqual([fake.counters.loadsByModel[D], fake.counters.evictionsByModel[G]], [1, 1]);
    });

    it('memory: a model that does not fit beside the loaded one evicts it', async () => {
      await start({ memoryBytes: 10e9 });
      await chat(fake, D, [user('d')]); // 8.9 GB
      await chat(fake, G, [user('g')]); // 0.8 GB: fits
      assert.equal(fake.loaded().length, 2);
      await chat(fake, Q, [user('q')]); // 4.7 GB: does not
      // both have 5 min left: the first in name order goes
      assert.deepEqual(fake.loaded().map(m => m.spec.name).sort(), [G, Q]);
      assert.equal(fake.counters.evictionsByModel[D], 1);
    });

    it('a load delay is real (scaled) time before any header', async () => {
      await start({ timeScale: 0.05, loadMs: 4000 }); // 200 ms
      const cold = await chat(fake, G, [user('hi')]);
      const warm = await chat(fake, G, [user('hi')]);
      assert.ok(cold.headersMs >= 180, `cold ${cold.headersMs} ms`);
      assert.ok(warm.headersMs < cold.headersMs - 100, `warm ${warm.headersMs} ms`);
    });
  });

  describe('prompt cache per slot', () => {
    const turn1 = () => [system('a coder'), user('Write add.js with a function add(a, b).')];
    const R1 = '<write_file><path>add.js</path><content>module.exports = (a, b) => a + b;</content></write_file>';

    it('the second turn of a conversation on the same slot evaluates only what is new', async () => {
      await start();
      fake.script(G, { content: R1 }, { content: 'done' });
      const m1 = turn1();
      const r1 = (await chat(fake, G, m1)).final;
      const p1 = countPromptTokens(m1);
      assert.deepEqual([r1.prompt_eval_count, r1.prompt_eval_cached_count], [p1, 0]);
      const m2 = [...m1, assistant(R1), user('<tool_result>ok</tool_result>')];
      const r2 = (await chat(fake, G, m2)).final;
      const p2 = countPromptTokens(m2);
      // the slot holds turn 1's prompt and its reply; the rest is the reply's end and the new message
      const cached = p1 + pieces(R1).length;
      assert.deepEqual([r2.prompt_eval_count, r2.prompt_eval_cached_count], [p2, cached]);
      assert.equal(p2 - cached, 2 + countPromptTokens([user('<tool_result>ok</tool_result>')]));
      assert.ok(r2.prompt_eval_duration * 10 < r1.prompt_eval_duration, 'time to first token follows the uncached part');
      assert.deepEqual(fake.generations.map(g => [g.slot, g.evaluatedTokens]), [[0, p1], [0, p2 - cached]]);
      assert.deepEqual([fake.counters.promptTokens, fake.counters.promptTokensEvaluated], [p1 + p2, p1 + p2 - cached]);
      assert.deepEqual([fake.counters.promptTokensByModel[G], fake.counters.promptTokensEvaluatedByModel[G]], [p1 + p2, p1 + p2 - cached]);
    });

    it('time to first token is proportional to the uncached part (real, scaled time)', async () => {
      await start({ timeScale: 0.1, promptTokensPerSec: 1000, loadMs: 0 });
      const long = [system(`a reviewer ${'with many rules '.repeat(600)}`), user('review')];
      assert.ok(countPromptTokens(long) > 2000); // > 200 ms at this scale
      const cold = await chat(fake, G, long);
      const cached = await chat(fake, G, [...long, assistant('OK'), user('again')]);
      assert.ok(cold.headersMs >= 180, `uncached ${cold.headersMs} ms`);
      assert.ok(cached.headersMs < 100, `cached ${cached.headersMs} ms`);
    });

    it('the same prompt again still evaluates one token', async () => {
      await start();
      const m = turn1();
      await chat(fake, G, m);
      const r = (await chat(fake, G, m)).final;
      assert.deepEqual([r.prompt_eval_count, r.prompt_eval_cached_count], [countPromptTokens(m), countPromptTokens(m) - 1]);
    });

    it('two conversations taking turns on one slot evict each other: every turn re-evaluates all of it', async () => {
      await start();
      const a = [system('agent A'), user('task A')];
      const b = [system('agent B'), user('task B')];
      await chat(fake, G, a);
      await chat(fake, G, b);
      const a2 = (await chat(fake, G, [...a, assistant('OK'), user('next A')])).final;
      const b2 = (await chat(fake, G, [...b, assistant('OK'), user('next B')])).final;
      // only the start of the system message ("You are agen") is shared
      const shared = commonPrefix(promptTokens(a), promptTokens(b));
      assert.equal(shared, 5);
      assert.deepEqual([a2.prompt_eval_cached_count, b2.prompt_eval_cached_count], [shared, shared]);
      const total = fake.generations.reduce((n, g) => n + g.promptTokens, 0);
      assert.equal(fake.counters.promptTokens, total);
      assert.equal(fake.counters.promptTokensEvaluated, total - 3 * shared);
      // a benchmark's minimum: each second turn evaluates only what follows its own first turn and reply
      const minimum = total - 2 * (countPromptTokens(a) + pieces('OK').length);
      assert.ok(fake.counters.promptTokensEvaluated / minimum > 1.5);
    });

    it('with two slots, turns that never overlap still land on one slot (the longest prefix, lowest id wins)', async () => {
      await start({ numParallel: 2 });
      const a = [system('agent A'), user('task A')];
      const b = [system('agent B'), user('task B')];
      await chat(fake, G, a);
      await chat(fake, G, b);
      await chat(fake, G, [...a, assistant('OK'), user('next A')]);
      assert.deepEqual(fake.generations.map(g => g.slot), [0, 0, 0]);
      assert.equal(fake.generations[2].cachedTokens, commonPrefix(promptTokens(a), promptTokens(b)));
    });

    it('with two slots, overlapping conversations each keep a slot and stay cached', async () => {
      await start({ numParallel: 2 });
      fake.onChat(() => ({ content: 'OK', delayMs: 40 }));
      const a = [system('agent A'), user('task A')];
      const b = [system('agent B'), user('task B')];
      await Promise.all([chat(fake, G, a), chat(fake, G, b)]);
      const [a2, b2] = await Promise.all([
        chat(fake, G, [...a, assistant('OK'), user('next A')]),
        chat(fake, G, [...b, assistant('OK'), user('next B')]),
      ]);
      assert.equal(a2.final.prompt_eval_cached_count, countPromptTokens(a) + 1);
      assert.equal(b2.final.prompt_eval_cached_count, countPromptTokens(b) + 1);
      assert.deepEqual(fake.generations.map(g => g.slot).sort(), [0, 0, 1, 1]);
    });

    it('multiUserCache: turns that never overlap keep their own slots', async () => {
      await start({ numParallel: 2, multiUserCache: true });
      const a = [system('agent A'), user('task A')];
      const b = [system('agent B'), user('task B')];
      await chat(fake, G, a);
      await chat(fake, G, b);
      const a2 = (await chat(fake, G, [...a, assistant('OK'), user('next A')])).final;
      const b2 = (await chat(fake, G, [...b, assistant('OK'), user('next B')])).final;
      assert.deepEqual(fake.generations.map(g => g.slot), [0, 1, 0, 1]);
      assert.equal(a2.prompt_eval_cached_count, countPromptTokens(a) + 1);
      assert.equal(b2.prompt_eval_cached_count, countPromptTokens(b) + 1);
    });

    it('a reload (num_ctx changed) or an unload empties the cache', async () => {
      await start();
      const m = turn1();
      await chat(fake, G, m, { options: { num_ctx: 4096 } });
      const r = (await chat(fake, G, m, { options: { num_ctx: 8192 } })).final;
      assert.equal(r.prompt_eval_cached_count, 0);
      assert.equal(fake.counters.reloads, 1);
    });

    it("old-server mode reports only the evaluated tokens and no cached count; /v1 likewise", async () => {
      await start({ promptCountMode: 'old' });
      fake.script(G, { content: R1 });
      const m1 = turn1();
      const r1 = (await chat(fake, G, m1)).final;
      assert.equal(r1.prompt_eval_count, countPromptTokens(m1), 'nothing cached yet: the whole prompt');
      const m2 = [...m1, assistant(R1), user('next')];
      const r2 = (await chat(fake, G, m2)).final;
      const evaluated = countPromptTokens(m2) - countPromptTokens(m1) - pieces(R1).length;
      assert.equal(r2.prompt_eval_count, evaluated);
      assert.ok(!('prompt_eval_cached_count' in r2));
      const v1 = (await post(fake, { model: G, messages: m2 }, { path: '/v1/chat/completions' })).final;
      assert.equal(v1.usage.prompt_tokens, 1, 'the same prompt again: one token evaluated');
      assert.ok(!('prompt_tokens_details' in v1.usage));
    });

    it('/v1 on a new server: usage.prompt_tokens is the whole prompt, cached_tokens the cached part', async () => {
      await start();
      const m = turn1();
      await chat(fake, G, m);
      const v1 = (await post(fake, { model: G, messages: m }, { path: '/v1/chat/completions' })).final;
      assert.equal(v1.usage.prompt_tokens, countPromptTokens(m));
      assert.deepEqual(v1.usage.prompt_tokens_details, { cached_tokens: countPromptTokens(m) - 1 });
    });
  });
});
