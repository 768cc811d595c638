import * as assert from 'node:assert/strict';
import { OllamaProvider } from '../../../src/core/providers/ollama';
import type { ChatRequest } from '../../../src/core/providers/types';
import { FakeOllama, startFakeOllama } from '../../fake-ollama/server';
import { rejectsWith, settleTime, sleep } from './helpers';

const user = (content: string): ChatRequest['messages'][number] => ({ role: 'user', content });
const req = (model: string, content = 'hi', extra: Partial<ChatRequest> = {}): ChatRequest => ({ model, messages: [user(content)], options: {}, ...extra });
const never = () => new AbortController().signal;

describe('OllamaProvider against the fake Ollama', () => {
  let fake: FakeOllama;
  let p: OllamaProvider;

  beforeEach(async () => {
    fake = await startFakeOllama();
    p = new OllamaProvider({ baseUrl: fake.url });
  });
  afterEach(() => fake.close());

  it('assembles streamed content from writes that split lines and UTF-8 characters', async () => {
    const text = 'Grüße 🌍 — 你好, naïve café ✓ '.repeat(4);
    fake.script('gemma3:1b', { content: text, fragmentBytes: 3 });
    const deltas: string[] = [];
    const r = await p.chat(req('gemma3:1b'), never(), d => d.content && deltas.push(d.content));
    assert.equal(r.content, text);
    assert.equal(deltas.join(''), text);
    assert.ok(deltas.length > 10, 'content arrives in many pieces');
    assert.equal(r.doneReason, 'stop');
    assert.ok(r.completionTokens > 0 && r.promptTokens > 0);
    assert.ok(r.modelMs > 0, 'modelMs comes from the eval durations');
    // Prompt evaluation and generation apart (for prompt and generation tokens per second), summing to modelMs.
    assert.ok(r.promptMs! > 0 && r.evalMs! > 0, `promptMs ${r.promptMs}, evalMs ${r.evalMs}`);
    assert.ok(Math.abs(r.promptMs! + r.evalMs! - r.modelMs) < 1e-6);
    assert.ok(r.loadMs > 1000, 'a cold load reports its load_duration');
    assert.equal(r.truncated, false);
    const r2 = await p.chat(req('gemma3:1b'), never());
    assert.ok(r2.loadMs < 100, 'a warm model loads in ~no time');
  });

  it('sends stream:true and the same num_ctx on every request, so the model never reloads', async () => {
    await p.chat(req('gemma3:1b', 'a', { options: { numCtx: 4096 } }), never());
    await p.chat(req('gemma3:1b', 'b', { options: { numCtx: 8192 } }), never());
    await p.chat(req('gemma3:1b', 'c'), never());
    const bodies = fake.requestsTo('/api/chat').map(r => r.body);
    assert.equal(bodies.length, 3);
    for (const b of bodies) {
      assert.equal(b.options.num_ctx, 4096);
      assert.equal(b.stream, true);
    }
    assert.equal(fake.counters.loads, 1);
    assert.equal(fake.counters.reloads, 0);
    // the fake does reload when num_ctx changes: the provider is what prevents it
    p.setNumCtx('gemma3:1b', 2048);
    await p.chat(req('gemma3:1b'), never());
    assert.equal(fake.counters.reloads, 1);
  });

  it('sends the whole conversation every turn, with tool calls and tool names, and a condensed message as it is now', async () => {
    const messages: ChatRequest['messages'] = [
      { role: 'system', content: 'You are "careful".\n' },
      user('write it'),
      { role: 'assistant', content: '', toolCalls: [{ name: 'write_file', arguments: { path: 'a.js', content: 'x = "1"' } }] },
      { role: 'tool', content: 'wrote a.js', toolName: 'write_file' },
    ];
    await p.chat({ model: 'gemma3:1b', messages, options: {} }, never());
    messages[3].content = '[condensed]';
    messages.push(user('next'));
    await p.chat({ model: 'gemma3:1b', messages, options: {}, keepAlive: '5m' }, never());
    const recorded = fake.requestsTo('/api/chat');
    assert.match(String(recorded[0].headers['user-agent']), /^ai2ai \(/);
    assert.equal(recorded[0].headers['content-type'], 'application/json');
    const [first, second] = recorded.map(r => r.body);
    assert.deepEqual(first.messages, [
      { role: 'system', content: 'You are "careful".\n' },
      { role: 'user', content: 'write it' },
      { role: 'assistant', content: '', tool_calls: [{ function: { name: 'write_file', arguments: { path: 'a.js', content: 'x = "1"' } } }] },
      { role: 'tool', content: 'wrote a.js', tool_name: 'write_file' },
    ]);
    assert.equal(second.messages.length, 5);
    assert.equal(second.messages[3].content, '[condensed]');
    assert.equal(second.messages[4].content, 'next');
    assert.equal(second.model, 'gemma3:1b');
    assert.equal(second.keep_alive, '5m');
    assert.equal(second.stream, true);
  });

  it('flags silent truncation from a low prompt_eval_count, and not an ordinary prompt', async () => {
    const small = await p.chat(req('gemma3:1b', 'x'.repeat(4000), { options: { numCtx: 2048 } }), never());
    assert.equal(small.truncated, false);
    const big = await p.chat(req('gemma3:1b', 'x'.repeat(12_000), { options: { numCtx: 2048 } }), never());
    assert.equal(fake.counters.truncated, 1, 'the fake cut the prompt');
    assert.equal(big.truncated, true);
    assert.ok(big.promptTokens < (big.estimatedPromptTokens ?? 0) * 0.7);
    assert.equal(big.numCtx, 2048);
  });

  it('parses a native tool call that arrives whole after a silent gap', async () => {
    fake.script('qwen2.5-coder:7b', { toolCalls: [{ name: 'read_file', arguments: { path: 'src/a.ts' } }] });
    const tools = [{ name: 'read_file', description: 'Read a file', parameters: { type: 'object', properties: { path: { type: 'string' } }, required: ['path'] } }];
    const r = await p.chat(req('qwen2.5-coder:7b', 'read it', { tools }), never());
    assert.equal(r.toolCalls.length, 1);
    assert.equal(r.toolCalls[0].name, 'read_file');
    assert.deepEqual(r.toolCalls[0].arguments, { path: 'src/a.ts' });
    assert.match(r.toolCalls[0].id ?? '', /^call_/);
    assert.equal(fake.requestsTo('/api/chat')[0].body.tools[0].function.name, 'read_file');
  });

  it('returns JSON that fits a format schema, and thinking from a thinking model', async () => {
    const schema = { type: 'object', properties: { tool: { type: 'string', enum: ['read_file', 'complete'] } }, required: ['tool'] };
    const r = await p.chat(req('gemma3:1b', 'go', { format: schema }), never());
    assert.deepEqual(JSON.parse(r.content), { tool: 'read_file' });
    fake.script('qwen3:4b', { thinking: 'Let me see.', content: 'Done.' });
    const t = await p.chat(req('qwen3:4b', 'go', { think: true }), never());
    assert.equal(t.thinking, 'Let me see.');
    assert.equal(t.content, 'Done.');
  });

  describe('errors', () => {
    it('404 unknown model -> model_not_found, with how to pull it', async () => {
      const e = await rejectsWith(p.chat(req('nope:7b'), never()), 'model_not_found');
      assert.equal(e.status, 404);
      assert.equal(e.retryable, false);
      assert.match(e.message, /ollama pull nope:7b/);
      assert.match(e.message, /AI2AI: Pull Model/);
    });

    it('400 tools on a target model -> tools_unsupported', async () => {
      const tools = [{ name: 'x', description: 'x', parameters: { type: 'object' } }];
      const e = await rejectsWith(p.chat(req('gemma3:1b', 'hi', { tools }), never()), 'tools_unsupported');
      assert.equal(e.status, 400);
      assert.match(e.serverMessage ?? '', /registry\.ollama\.ai\/library\/gemma3:1b does not support tools/);
      assert.match(e.message, /text tool protocol/);
    });

    it('400 think on a model without thinking -> thinking_unsupported', async () => {
      await rejectsWith(p.chat(req('gemma3:1b', 'hi', { think: true }), never()), 'thinking_unsupported');
    });

    it('400 prompt longer than the context (deepseek2) -> context_too_long', async () => {
      const e = await rejectsWith(p.chat(req('deepseek-coder-v2:16b', 'y'.repeat(20_000), { options: { numCtx: 2048 } }), never()), 'context_too_long');
      assert.equal(e.retryable, false);
      assert.match(e.message, /num_ctx 2048/);
    });

    it('503 with a full queue -> busy, retryable', async () => {
      await fake.close();
      fake = await startFakeOllama({ numParallel: 1, maxQueue: 1 });
      p = new OllamaProvider({ baseUrl: fake.url });
      fake.script('gemma3:1b', { content: 'a b c d e f', stallAfter: 1 });
      const ctl = new AbortController();
      const a = p.chat(req('gemma3:1b'), ctl.signal).catch(e => e);
      await fake.waitFor(() => fake.counters.active === 1, 5000, 'first request active');
      const b = p.chat(req('gemma3:1b'), ctl.signal).catch(e => e);
      await fake.waitFor(() => fake.counters.queued === 1, 5000, 'second request queued');
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'busy');
      assert.equal(e.status, 503);
      assert.equal(e.retryable, true);
      assert.equal(e.serverMessage, 'server busy, please try again.  maximum pending requests exceeded');
      ctl.abort();
      await Promise.all([a, b]);
      await fake.waitFor(() => fake.counters.active === 0 && fake.counters.queued === 0, 5000, 'slots freed');
    });

    it('connection refused on a closed port -> connection, not retryable, says to start Ollama', async () => {
      const url = fake.url;
      await fake.close();
      const down = new OllamaProvider({ baseUrl: url });
      const e = await rejectsWith(down.chat(req('gemma3:1b'), never()), 'connection');
      assert.equal(e.retryable, false);
      assert.match(e.message, /Is Ollama running at http:\/\/127\.0\.0\.1:\d+\? Start it with `ollama serve`/);
      const h = await down.health(never());
      assert.equal(h.ok, false);
      assert.match(h.ok ? '' : h.reason, /ollama serve/);
      fake = await startFakeOllama(); // for afterEach
    });

    it('an {"error"} line after the 200 -> mid_stream, retryable', async () => {
      fake.script('gemma3:1b', { content: 'one two three four', errorAfter: 2, midStreamError: 'llama runner process has terminated' });
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'mid_stream');
      assert.equal(e.retryable, true);
      assert.match(e.message, /llama runner process has terminated/);
    });

    it('a stream that ends without the done chunk -> incomplete_stream, retryable', async () => {
      fake.script('gemma3:1b', { content: 'partial answer', endWithoutDone: true });
      const e = await rejectsWith(p.chat(req('gemma3:1b'), never()), 'incomplete_stream');
      assert.equal(e.retryable, true);
    });
  });

  describe('cancellation and watchdogs', () => {
    it('cancels a request queued behind a busy slot (no headers yet) and the fake drops it from the queue', async () => {
      fake.script('gemma3:1b', { content: 'x'.repeat(400), pieceDelayMs: 20 });
      const first = new AbortController();
      const a = p.chat(req('gemma3:1b'), first.signal).catch(e => e);
      await fake.waitFor(() => fake.counters.active === 1, 5000, 'first request active');
      const ctl = new AbortController();
      const b = p.chat(req('gemma3:1b'), ctl.signal);
      await fake.waitFor(() => fake.counters.queued === 1, 5000, 'second request queued');
      ctl.abort();
      assert.ok((await settleTime(rejectsWith(b, 'cancelled'))) < 3000, 'rejects promptly');
      await fake.waitFor(() => fake.counters.abortedWhile.queued === 1 && fake.counters.queued === 0, 5000, 'queued request dropped');
      first.abort();
      await a;
    });

    it('cancels during a (slow) model load, before any header, and frees the slot', async () => {
      await fake.close();
      fake = await startFakeOllama({ timeScale: 1, loadMs: 60_000 });
      p = new OllamaProvider({ baseUrl: fake.url });
      const ctl = new AbortController();
      const c = p.chat(req('gemma3:1b'), ctl.signal);
      await fake.waitFor(() => fake.counters.active === 1, 5000, 'request loading');
      await sleep(50);
      ctl.abort();
      assert.ok((await settleTime(rejectsWith(c, 'cancelled'))) < 3000);
      await fake.waitFor(() => fake.counters.abortedWhile.loading === 1 && fake.counters.active === 0, 5000, 'load abandoned, slot freed');
    });

    it('cancels mid-stream: the server stops generating and frees the slot', async () => {
      fake.script('gemma3:1b', { content: 'word '.repeat(500), pieceDelayMs: 10 });
      const ctl = new AbortController();
      let got = 0;
      const c = p.chat(req('gemma3:1b'), ctl.signal, () => {
        if (++got === 3) ctl.abort();
      });
      await rejectsWith(c, 'cancelled');
      await fake.waitFor(() => fake.counters.abortedWhile.generating === 1 && fake.counters.active === 0, 5000, 'generation stopped');
      const tokens = fake.counters.tokensGenerated;
      await sleep(200);
      assert.equal(fake.counters.tokensGenerated, tokens, 'no token generated after the disconnect');
      assert.ok(tokens < 100, `stopped early (${tokens} of 625 pieces)`);
      assert.equal(fake.counters.completed, 0);
    });

    it('a slow-to-headers reply succeeds when our first-token watchdog allows it', async () => {
      fake.script('gemma3:1b', { content: 'late', delayMs: 1500 });
      const slow = new OllamaProvider({ baseUrl: fake.url, firstTokenTimeoutMs: 10_000 });
      const r = await slow.chat(req('gemma3:1b'), never());
      assert.equal(r.content, 'late');
    });

    it('first-token watchdog -> timeout (retryable), and the server sees the disconnect', async () => {
      fake.script('gemma3:1b', { content: 'never', stallAfter: 0 });
      const q = new OllamaProvider({ baseUrl: fake.url, firstTokenTimeoutMs: 300 });
      const e = await rejectsWith(q.chat(req('gemma3:1b'), never()), 'timeout');
      assert.equal(e.retryable, true);
      assert.match(e.message, /No first token/);
      await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'server saw the abort');
    });

    it('idle watchdog between chunks -> timeout', async () => {
      fake.script('gemma3:1b', { content: 'one two three four five', stallAfter: 2 });
      const q = new OllamaProvider({ baseUrl: fake.url, idleTimeoutMs: 300 });
      const e = await rejectsWith(q.chat(req('gemma3:1b'), never()), 'timeout');
      assert.match(e.message, /No next token/);
      await fake.waitFor(() => fake.counters.active === 0, 5000, 'slot freed');
    });

    it('an already-aborted signal rejects without touching the server', async () => {
      const ctl = new AbortController();
      ctl.abort();
      await rejectsWith(p.chat(req('gemma3:1b'), ctl.signal), 'cancelled');
      assert.equal(fake.requestsTo('/api/chat').length, 0);
    });
  });

  describe('models, health, pull', () => {
    it('probe reports capabilities and context length from /api/show', async () => {
      const g = await p.probe('gemma3:1b', never());
      assert.deepEqual(g, { capabilities: ['completion'], contextLength: 32768, family: 'gemma3', capabilitiesKnown: true });
      const d = await p.probe('deepseek-coder-v2:16b', never());
      assert.deepEqual(d.capabilities, ['completion', 'insert']);
      assert.equal(d.contextLength, 163840);
      await rejectsWith(p.probe('missing:1b', never()), 'model_not_found');
      // the window is capped at the model's maximum once known
      const capped = new OllamaProvider({ baseUrl: fake.url, defaultNumCtx: 100_000 });
      await capped.probe('gemma3:1b', never());
      assert.equal(capped.numCtxFor('gemma3:1b'), 32768);
    });

    it('lists models and reports health with the version', async () => {
      const models = await p.listModels(never());
      assert.ok(models.some(m => m.name === 'deepseek-coder-v2:16b' && m.family === 'deepseek2' && m.parameterSize === '15.7B'));
      assert.deepEqual(await p.health(never()), { ok: true, version: '0.12.6' });
    });

    it('pull reports progress in order and the model appears afterwards', async () => {
      fake.setModels(fake.options.models.filter(m => m.name !== 'gemma3:1b'));
      await rejectsWith(p.chat(req('gemma3:1b'), never()), 'model_not_found');
      const seen: Array<{ status: string; percent?: number }> = [];
      await p.pull('gemma3:1b', x => seen.push(x), never());
      assert.equal(seen[0].status, 'pulling manifest');
      assert.equal(seen[seen.length - 1].status, 'success');
      assert.ok(seen.some(s => s.status === 'verifying sha256 digest'));
      const pct = seen.filter(s => s.percent !== undefined).map(s => s.percent!);
      assert.deepEqual(pct, [...pct].sort((a, b) => a - b), 'progress never goes back');
      assert.equal(pct[pct.length - 1], 100);
      assert.equal(fake.requestsTo('/api/pull')[0].body.name, 'gemma3:1b', 'ollama-js sends {name}');
      assert.ok((await p.listModels(never())).some(m => m.name === 'gemma3:1b'));
    });

    it('pull while Ollama is offline -> connection error with advice', async () => {
      fake.options.offline = true;
      const e = await rejectsWith(p.pull('gemma3:1b', () => undefined, never()), 'connection');
      assert.match(e.message, /internet connection/);
    });
  });
});
