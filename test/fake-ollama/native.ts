/** The native /api/chat wire formats of the fake: NDJSON chunks, or one aggregated JSON object. */
import type * as http from 'node:http';
import type { GenStats, ScriptedReply, Sink, ToolCallOut } from './script';
import type { FakeInternals } from './server';
import { sendJson } from './server';

const now = () => new Date().toISOString();

export function nativeStreamSink(x: FakeInternals, res: http.ServerResponse, model: string, reply: ScriptedReply, signal: AbortSignal): Sink {
  const write = x.writer(res, 'application/x-ndjson', reply.fragmentBytes ?? x.fake.options.fragmentBytes, signal);
  const line = (o: unknown) => write(JSON.stringify(o) + '\n');
  return {
    piece: p => line({ model, created_at: now(), message: { role: 'assistant', content: p.content ?? '', ...(p.thinking !== undefined ? { thinking: p.thinking } : {}) }, done: false }),
    toolCalls: calls =>
      line({
        model, created_at: now(),
        message: { role: 'assistant', content: '', tool_calls: calls.map((c, index) => ({ id: c.id, function: { index, name: c.name, arguments: c.arguments } })) },
        done: false,
      }),
    async midStreamError(message) {
      await line({ error: message });
      res.end();
    },
    async done(s) {
      await line({ model, created_at: now(), message: { role: 'assistant', content: '' }, done: true, ...metrics(s) });
      res.end();
    },
    async endWithoutDone() {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'application/x-ndjson' });
      res.end();
    },
  };
}

export function nativeJsonSink(res: http.ServerResponse, model: string): Sink {
  let content = '';
  let thinking = '';
  let calls: ToolCallOut[] = [];
  return {
    async piece(p) {
      content += p.content ?? '';
      thinking += p.thinking ?? '';
    },
    async toolCalls(c) {
      calls = c;
    },
    async midStreamError(message) {
      sendJson(res, 500, { error: message });
    },
    async done(s) {
      const message: Record<string, unknown> = { role: 'assistant', content };
      if (thinking) message.thinking = thinking;
      if (calls.length) message.tool_calls = calls.map((c, index) => ({ id: c.id, function: { index, name: c.name, arguments: c.arguments } }));
      sendJson(res, 200, { model, created_at: now(), message, done: true, ...metrics(s) });
    },
    async endWithoutDone() {
      res.destroy();
    },
  };
}

function metrics(s: GenStats) {
  return {
    done_reason: s.doneReason, total_duration: s.totalNs, load_duration: s.loadNs, prompt_eval_count: s.promptEvalCount,
    // sent by servers with ollama PR #17943, even when 0; older ones never send it
    ...(s.promptCachedCount !== undefined ? { prompt_eval_cached_count: s.promptCachedCount } : {}),
    prompt_eval_duration: s.promptEvalNs, eval_count: s.evalCount, eval_duration: s.evalNs,
  };
}
