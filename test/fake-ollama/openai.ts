/**
 * The OpenAI-compatible surface of the fake (what Ollama's /v1, LM Studio, llama.cpp and vLLM serve):
 * GET /v1/models, POST /v1/chat/completions with SSE or JSON, errors as {"error":{message,type,param,code}},
 * and an optional bearer key. Tool-call arguments are JSON strings, streamed in several deltas the way
 * vLLM and OpenAI do, so a client must assemble them.
 */
import type * as http from 'node:http';
import { registryName } from './catalog';
import type { ChatJob, FakeInternals } from './server';
import { HttpError } from './server';
import { GenStats, ScriptedReply, Sink, ToolCallOut } from './script';

function openAiError(res: http.ServerResponse, status: number, message: string, type: string, code: string | null = null) {
  const text = JSON.stringify({ error: { message, type, param: null, code } });
  res.writeHead(status, { 'Content-Type': 'application/json' });
  res.end(text);
}

export async function handleOpenAi(
  x: FakeInternals, method: string, path: string, body: any, req: http.IncomingMessage, res: http.ServerResponse,
): Promise<void> {
  const key = x.fake.options.apiKey;
  if (key !== undefined && req.headers.authorization !== `Bearer ${key}`) {
    return openAiError(res, 401, 'Incorrect API key provided.', 'invalid_request_error', 'invalid_api_key');
  }
  if (method === 'GET' && path === '/v1/models') {
    const data = x.fake.options.models.map(m => ({ id: m.name, object: 'model', created: 1751364000, owned_by: 'library' }));
    res.writeHead(200, { 'Content-Type': 'application/json' });
    return void res.end(JSON.stringify({ object: 'list', data }));
  }
  if (method === 'POST' && path === '/v1/chat/completions') return chat(x, body, req, res);
  res.writeHead(404, { 'Content-Type': 'text/plain' });
  res.end('404 page not found');
}

async function chat(x: FakeInternals, body: any, req: http.IncomingMessage, res: http.ServerResponse) {
  const model: string | undefined = body.model;
  if (!model) throw new HttpError(400, 'model is required');
  const spec = x.findModel(model);
  if (!spec) throw new HttpError(404, `model "${model}" not found, try pulling it first`);
  const tools = Array.isArray(body.tools) && body.tools.length > 0;
  if (tools && !spec.capabilities.includes('tools')) throw new HttpError(400, `${registryName(model)} does not support tools`);
  const all: Array<{ role: string; content: string }> = (Array.isArray(body.messages) ? body.messages : []).map((m: any) => ({
    role: String(m.role),
    content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content ?? ''),
  }));
  const messages = spec.capabilities.includes('tools') ? all : all.filter(m => m.role !== 'tool');
  const rf = body.response_format;
  const format = rf?.type === 'json_schema' ? rf.json_schema?.schema ?? {} : rf?.type === 'json_object' ? 'json' : undefined;
  const job: ChatJob = {
    api: 'openai', model, spec, messages, format, think: false,
    // /v1 sends no keep_alive: the model keeps its session duration
    keepAliveMs: undefined,
    // /v1 ignores num_ctx: the server default applies
    numCtx: Math.min(x.fake.options.defaultNumCtx, spec.contextLength),
    numPredict: body.max_tokens ?? body.max_completion_tokens,
    extraPromptText: tools ? JSON.stringify(body.tools) : '',
    view: { api: 'openai', model, body, messages: all, headers: req.headers },
  };
  if (job.messages.length === 0) throw new HttpError(400, "[] is too short - 'messages'");
  const stream = body.stream === true; // OpenAI's default is NOT to stream
  const includeUsage = body.stream_options?.include_usage === true;
  const signal = x.clientGone(res);
  await x.runChat(job, res, signal, reply => (stream ? sseSink(x, res, model, reply, signal, includeUsage) : jsonSink(res, model)));
}

let seq = 0;

function finishReason(s: GenStats, calls: boolean): string {
  return calls ? 'tool_calls' : s.doneReason;
}

function usage(s: GenStats) {
  const u: Record<string, unknown> = { prompt_tokens: s.promptEvalCount, completion_tokens: s.evalCount, total_tokens: s.promptEvalCount + s.evalCount };
  // servers that report cached prompt tokens (ollama PR #17943) add them here, as OpenAI does
  if (s.promptCachedCount !== undefined) u.prompt_tokens_details = { cached_tokens: s.promptCachedCount };
  return u;
}

function argsText(c: ToolCallOut): string {
  return c.rawArguments ?? JSON.stringify(c.arguments);
}

function sseSink(x: FakeInternals, res: http.ServerResponse, model: string, reply: ScriptedReply, signal: AbortSignal, includeUsage: boolean): Sink {
  const write = x.writer(res, 'text/event-stream', reply.fragmentBytes ?? x.fake.options.fragmentBytes, signal);
  const id = `chatcmpl-${++seq}`;
  const created = Math.floor(Date.now() / 1000);
  let first = true;
  let sawCalls = false;
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => {
    if (first) delta = { role: 'assistant', ...delta };
    first = false;
    return write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`);
  };
  return {
    piece: p => chunk({ content: p.content ?? '' }),
    async toolCalls(calls) {
      sawCalls = true;
      for (const [index, c] of calls.entries()) {
        await chunk({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] });
        const text = argsText(c);
        // split the JSON string in three so clients must concatenate deltas
        const cut = [0, Math.floor(text.length / 3), Math.floor((2 * text.length) / 3), text.length];
        for (let i = 0; i < 3; i++) {
          const part = text.slice(cut[i], cut[i + 1]);
          if (part) await chunk({ tool_calls: [{ index, function: { arguments: part } }] });
        }
      }
    },
    async midStreamError(message) {
      await write(`data: ${JSON.stringify({ error: { message, type: 'api_error', param: null, code: null } })}\n\n`);
      res.end();
    },
    async done(s) {
      await chunk({}, finishReason(s, sawCalls));
      if (includeUsage) {
        await write(`data: ${JSON.stringify({ id, object: 'chat.completion.chunk', created, model, system_fingerprint: 'fp_ollama', choices: [], usage: usage(s) })}\n\n`);
      }
      await write('data: [DONE]\n\n');
      res.end();
    },
    async endWithoutDone() {
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': 'text/event-stream' });
      res.end();
    },
  };
}

function jsonSink(res: http.ServerResponse, model: string): Sink {
  let content = '';
  let calls: ToolCallOut[] = [];
  return {
    async piece(p) {
      content += p.content ?? '';
    },
    async toolCalls(c) {
      calls = c;
    },
    async midStreamError(message) {
      openAiError(res, 500, message, 'api_error');
    },
    async done(s) {
      const message: Record<string, unknown> = { role: 'assistant', content };
      if (calls.length) {
        message.tool_calls = calls.map((c, index) => ({ index, id: c.id, type: 'function', function: { name: c.name, arguments: argsText(c) } }));
      }
      const text = JSON.stringify({
        id: `chatcmpl-${++seq}`, object: 'chat.completion', created: Math.floor(Date.now() / 1000), model, system_fingerprint: 'fp_ollama',
        choices: [{ index: 0, message, finish_reason: finishReason(s, calls.length > 0) }],
        usage: usage(s),
      });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.end(text);
    },
    async endWithoutDone() {
      res.destroy();
    },
  };
}
