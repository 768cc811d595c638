/** The fake itself must be faithful, or the provider tests prove nothing: its wire behaviour, checked raw. */
import * as assert from 'node:assert/strict';
import { nodeFetch } from '../../../src/core/providers/http';
import { FakeOllama, startFakeOllama } from '../../fake-ollama/server';
import { sleep } from './helpers';

async function post(url: string, body: unknown, signal?: AbortSignal) {
  return nodeFetch(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' }, signal });
}

describe('fake Ollama wire behaviour', () => {
  let fake: FakeOllama;
  beforeEach(async () => {
    fake = await startFakeOllama();
  });
  afterEach(() => fake.close());

  it('streams NDJSON when stream is omitted; metrics only on the final chunk', async () => {
    fake.script('gemma3:1b', { content: 'Hello there' });
    const res = await post(`${fake.url}/api/chat`, { model: 'gemma3:1b', messages: [{ role: 'user', content: 'hi' }] });
    assert.equal(res.headers.get('content-type'), 'application/x-ndjson');
    const lines = (await res.text()).trim().split('\n').map(l => JSON.parse(l));
    const last = lines.pop();
    for (const l of lines) {
      assert.deepEqual(Object.keys(l).sort(), ['created_at', 'done', 'message', 'model']);
      assert.equal(l.done, false);
    }
    assert.equal(lines.map(l => l.message.content).join(''), 'Hello there');
    assert.equal(last.done, true);
    assert.equal(last.done_reason, 'stop');
    for (const k of ['total_duration', 'load_duration', 'prompt_eval_count', 'prompt_eval_duration', 'eval_count', 'eval_duration']) {
      assert.equal(typeof last[k], 'number', k);
    }
    assert.ok(last.load_duration > 1e9, 'nanoseconds');
  });

  it('non-stream: one aggregated application/json object (native and /v1)', async () => {
    fake.script('gemma3:1b', { content: 'All of it' }, { content: 'v1 too' });
    const res = await post(`${fake.url}/api/chat`, { name: 'gemma3:1b', stream: false, messages: [{ role: 'user', content: 'hi' }] });
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const j = (await res.json()) as any;
    assert.equal(j.message.content, 'All of it');
    assert.equal(j.done, true);
    assert.equal(typeof j.eval_count, 'number');
    const v1 = (await (await post(`${fake.url}/v1/chat/completions`, { model: 'gemma3:1b', messages: [{ role: 'user', content: 'hi' }] })).json()) as any;
    assert.equal(v1.object, 'chat.completion');
    assert.equal(v1.choices[0].message.content, 'v1 too');
    assert.equal(v1.choices[0].finish_reason, 'stop');
    assert.equal(typeof v1.usage.total_tokens, 'number');
  });

  it('a non-stream call waiting for headers can be cancelled, and the fake counts the abort', async () => {
    fake.script('gemma3:1b', { content: 'slow', delayMs: 60_000 });
    const ctl = new AbortController();
    const p = post(`${fake.url}/api/chat`, { model: 'gemma3:1b', stream: false, messages: [{ role: 'user', content: 'hi' }] }, ctl.signal);
    await fake.waitFor(() => fake.counters.active === 1, 5000, 'active');
    await sleep(30);
    ctl.abort();
    await assert.rejects(p, (e: Error) => e.name === 'AbortError');
    await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'abort seen');
  });

  it('errors before streaming have the real bodies', async () => {
    const unknown = await nodeFetch(`${fake.url}/api/nothing`);
    assert.equal(unknown.status, 404);
    assert.equal(unknown.headers.get('content-type'), 'text/plain');
    assert.equal(await unknown.text(), '404 page not found');
    const noModel = await post(`${fake.url}/api/chat`, { messages: [] });
    assert.equal(noModel.status, 400);
    assert.deepEqual(await noModel.json(), { error: 'model is required' });
    const missing = await post(`${fake.url}/api/show`, { model: 'x:1b' });
    assert.deepEqual([missing.status, await missing.json()], [404, { error: "model 'x:1b' not found" }]);
    const v1 = await post(`${fake.url}/v1/chat/completions`, { model: 'x', messages: [{ role: 'user', content: 'a' }] });
    const j = (await v1.json()) as any;
    assert.deepEqual(Object.keys(j.error).sort(), ['code', 'message', 'param', 'type']);
  });

  it('drops tool-role messages for the target models (they never reach the prompt)', async () => {
    const base = { model: 'gemma3:1b', stream: false };
    const a = (await (await post(`${fake.url}/api/chat`, { ...base, messages: [{ role: 'user', content: 'hi' }] })).json()) as any;
    const b = (await (await post(`${fake.url}/api/chat`, { ...base, messages: [{ role: 'user', content: 'hi' }, { role: 'tool', content: 'x'.repeat(4000) }] })).json()) as any;
    assert.equal(b.prompt_eval_count, a.prompt_eval_count);
  });

  it('/api/ps reflects loads, num_ctx and keep_alive expiry; an empty chat loads or unloads', async () => {
    const load = (await (await post(`${fake.url}/api/chat`, { model: 'gemma3:1b', messages: [], keep_alive: '300ms' })).json()) as any;
    assert.equal(load.done_reason, 'load');
    const ps = (await (await nodeFetch(`${fake.url}/api/ps`)).json()) as any;
    assert.equal(ps.models[0].name, 'gemma3:1b');
    assert.equal(ps.models[0].context_length, 4096);
    await fake.waitFor(() => fake.loaded().length === 0, 5000, 'keep_alive expiry');
    await post(`${fake.url}/api/chat`, { model: 'gemma3:1b', messages: [], keep_alive: -1 });
    const unload = (await (await post(`${fake.url}/api/chat`, { model: 'gemma3:1b', messages: [], keep_alive: 0 })).json()) as any;
    assert.equal(unload.done_reason, 'unload');
    assert.equal(fake.loaded().length, 0);
  });

  it('/api/embed and /api/tags answer in Ollama shapes', async () => {
    const e = (await (await post(`${fake.url}/api/embed`, { model: 'nomic-embed-text', input: ['a', 'b'] })).json()) as any;
    assert.equal(e.embeddings.length, 2);
    assert.equal(typeof e.prompt_eval_count, 'number');
    const t = (await (await nodeFetch(`${fake.url}/api/tags`)).json()) as any;
    assert.ok(t.models.find((m: any) => m.name === 'deepseek-coder-v2:16b').details.family === 'deepseek2');
  });
});
