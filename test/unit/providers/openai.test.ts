import * as assert from 'node:assert/strict';
import { OpenAiProvider, SseParser, normalizeOpenAiBase } from '../../../src/core/providers/openai';
import { createProvider } from '../../../src/core/providers';
import type { ChatRequest } from '../../../src/core/providers/types';
import { FakeOllama, startFakeOllama } from '../../fake-ollama/server';
import { rejectsWith, sleep } from './helpers';

const req = (model: string, content = 'hi', extra: Partial<ChatRequest> = {}): ChatRequest => ({ model, messages: [{ role: 'user', content }], options: {}, ...extra });
const never = () => new AbortController().signal;
const tools = [{ name: 'write_file', description: 'Write a file', parameters: { type: 'object', properties: { path: { type: 'string' }, content: { type: 'string' } } } }];

describe('OpenAiProvider against the fake /v1', () => {
  let fake: FakeOllama;
  let p: OpenAiProvider;

  beforeEach(async () => {
    fake = await startFakeOllama();
    p = new OpenAiProvider({ baseUrl: fake.url });
  });
  afterEach(() => fake.close());

  it('appends /v1 to a bare server URL and keeps an explicit version path', () => {
    assert.equal(normalizeOpenAiBase('http://h:1234'), 'http://h:1234/v1');
    assert.equal(normalizeOpenAiBase('http://h:1234/v1/'), 'http://h:1234/v1');
    assert.equal(normalizeOpenAiBase('https://openrouter.ai/api/v1'), 'https://openrouter.ai/api/v1');
  });

  it('streams SSE content split across writes and characters, with usage from the last chunk', async () => {
    const text = 'Ünïcode 🌍 and 你好 across fragments. '.repeat(3);
    fake.script('gemma3:1b', { content: text, fragmentBytes: 5 });
    const deltas: string[] = [];
    const r = await p.chat(req('gemma3:1b', 'x'.repeat(400)), never(), d => d.content && deltas.push(d.content));
    assert.equal(r.content, text);
    assert.equal(deltas.join(''), text);
    assert.equal(r.doneReason, 'stop');
    assert.ok(r.promptTokens >= 100, `usage.prompt_tokens read (${r.promptTokens})`);
    assert.ok(r.completionTokens > 0);
    const body = fake.requestsTo('/v1/chat/completions')[0].body;
    assert.equal(body.stream, true);
    assert.deepEqual(body.stream_options, { include_usage: true });
  });

  it('assembles a tool call from streamed deltas with JSON-string arguments', async () => {
    const args = { path: 'src/ä.ts', content: 'export const x = "1";\n' };
    fake.script('qwen2.5-coder:7b', { content: 'Writing.', toolCalls: [{ name: 'write_file', arguments: args }] });
    const r = await p.chat(req('qwen2.5-coder:7b', 'write', { tools }), never());
    assert.equal(r.toolCalls.length, 1);
    assert.equal(r.toolCalls[0].name, 'write_file');
    assert.deepEqual(r.toolCalls[0].arguments, args);
    assert.match(r.toolCalls[0].id ?? '', /^call_/);
    assert.equal(r.doneReason, 'tool_calls');
    assert.equal(fake.requestsTo('/v1/chat/completions')[0].body.tools[0].type, 'function');
  });

  it('invalid tool-call arguments -> invalid_response naming the tool', async () => {
    fake.script('qwen2.5-coder:7b', { toolCalls: [{ name: 'write_file', arguments: {}, rawArguments: '{"path": "a.ts", ' }] });
    const e = await rejectsWith(p.chat(req('qwen2.5-coder:7b', 'write', { tools }), never()), 'invalid_response');
    assert.match(e.message, /write_file/);
    assert.match(e.message, /not valid JSON/);
  });

  it('sends format as response_format json_schema', async () => {
    const schema = { type: 'object', properties: { ok: { type: 'boolean' } } };
    const r = await p.chat(req('gemma3:1b', 'go', { format: schema }), never());
    assert.deepEqual(JSON.parse(r.content), { ok: true });
    assert.deepEqual(fake.requestsTo('/v1/chat/completions')[0].body.response_format.json_schema.schema, schema);
  });

  describe('errors', () => {
    it('401 without the key, success with it, the key read per request', async () => {
      await fake.close();
      fake = await startFakeOllama({ apiKey: 'sk-test' });
      const noKey = new OpenAiProvider({ baseUrl: fake.url });
      const e = await rejectsWith(noKey.chat(req('gemma3:1b'), never()), 'unauthorized');
      assert.equal(e.status, 401);
      assert.equal(e.retryable, false);
      assert.match(e.message, /API key/);
      let key = 'wrong';
      const withKey = new OpenAiProvider({ baseUrl: fake.url, getApiKey: async () => key });
      await rejectsWith(withKey.listModels(never()), 'unauthorized');
      key = 'sk-test';
      assert.equal((await withKey.chat(req('gemma3:1b'), never())).content, 'OK');
      assert.equal(fake.requests.at(-1)?.headers.authorization, 'Bearer sk-test');
      const h = await noKey.health(never());
      assert.equal(h.ok, false);
    });

    it('404 model -> model_not_found (OpenAI error shape parsed)', async () => {
      const e = await rejectsWith(p.chat(req('nope'), never()), 'model_not_found');
      assert.match(e.serverMessage ?? '', /model "nope" not found/);
      assert.doesNotMatch(e.message, /ollama pull/, 'advice fits a generic server');
    });

    it('400 tools unsupported -> tools_unsupported', async () => {
      await rejectsWith(p.chat(req('gemma3:1b', 'x', { tools }), never()), 'tools_unsupported');
    });

    it('an SSE error event mid-stream -> mid_stream; a stream without [DONE] -> incomplete_stream', async () => {
      fake.script('gemma3:1b', { content: 'a b c d e f g', errorAfter: 2, midStreamError: 'out of memory' });
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'mid_stream');
      assert.match(e.message, /out of memory/);
      fake.script('gemma3:1b', { content: 'a b c d', endWithoutDone: true });
      await rejectsWith(p.chat(req('gemma3:1b'), never()), 'incomplete_stream');
    });

    it('503 with a full queue -> busy', async () => {
      await fake.close();
      fake = await startFakeOllama({ maxQueue: 0 });
      p = new OpenAiProvider({ baseUrl: fake.url });
      fake.script('gemma3:1b', { content: 'a b c', stallAfter: 1 });
      const ctl = new AbortController();
      const a = p.chat(req('gemma3:1b'), ctl.signal).catch(x => x);
      await fake.waitFor(() => fake.counters.active === 1, 5000, 'active');
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'busy');
      assert.equal(e.retryable, true);
      ctl.abort();
      await a;
    });

    it('connection refused -> connection, with a hint to start the server', async () => {
      const url = fake.url;
      await fake.close();
      const e = await rejectsWith(new OpenAiProvider({ baseUrl: url }).chat(req('m'), never()), 'connection');
      assert.match(e.message, /Is it running at/);
      fake = await startFakeOllama();
    });
  });

  it('cancel mid-stream rejects as cancelled and the server stops generating', async () => {
    fake.script('gemma3:1b', { content: 'tok '.repeat(500), pieceDelayMs: 10 });
    const ctl = new AbortController();
    let n = 0;
    await rejectsWith(p.chat(req('gemma3:1b'), ctl.signal, () => ++n === 3 && ctl.abort()), 'cancelled');
    await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'server stopped');
    const t = fake.counters.tokensGenerated;
    await sleep(200);
    assert.equal(fake.counters.tokensGenerated, t);
  });

  it('idle watchdog -> timeout', async () => {
    fake.script('gemma3:1b', { content: 'a b c d e f', stallAfter: 1 });
    const q = new OpenAiProvider({ baseUrl: fake.url, idleTimeoutMs: 300 });
    await rejectsWith(q.chat(req('gemma3:1b'), never()), 'timeout');
    await fake.waitFor(() => fake.counters.active === 0, 5000, 'slot freed');
  });

  it('lists models, probes what it can, reports health; createProvider builds both kinds', async () => {
    const models = await p.listModels(never());
    assert.ok(models.some(m => m.name === 'gemma3:1b'));
    assert.deepEqual(await p.probe('gemma3:1b', never()), { capabilities: ['completion'], contextLength: undefined, capabilitiesKnown: false });
    await rejectsWith(p.probe('nope', never()), 'model_not_found');
    assert.deepEqual(await p.health(never()), { ok: true });
    assert.equal(createProvider({ kind: 'openai', baseUrl: fake.url }).kind, 'openai');
    const o = createProvider({ kind: 'ollama', baseUrl: fake.url });
    assert.equal((await o.chat(req('gemma3:1b'), never())).content, 'OK');
  });

  it('SseParser handles CRLF, comments, multi-line data and a final event without a blank line', () => {
    const sse = new SseParser();
    const enc = new TextEncoder();
    const bytes = enc.encode(': ping\r\ndata: {"a":1}\r\n\r\ndata: line1\ndata: line2\n\ndata: [DONE]');
    const out: string[] = [];
    for (let i = 0; i < bytes.length; i += 2) out.push(...sse.push(bytes.subarray(i, i + 2)));
    out.push(...sse.push(undefined, true));
    assert.deepEqual(out, ['{"a":1}', 'line1\nline2', '[DONE]']);
  });
});
