/**
 * OpenAI-compatible chat servers (LM Studio, llama.cpp server, vLLM, Ollama's /v1) over plain fetch
 * (`nodeFetch`, same reasons as for Ollama: no undici timeouts, cancellable before headers).
 * Streams SSE, assembles tool calls from their deltas, and uses the same errors and watchdogs.
 */
import type { IncomingMessage } from 'node:http';
import type { Logger } from '../ports';
import { nullLogger } from '../ports';
import { HttpStatusError, InBandError, IncompleteStreamError, classifyProviderError } from './errors';
import { Watchdog, deliverDelta, estimateTokens, nodeFetch, readLines, readText, request, withTimeout } from './http';
import type { ChatDelta, ChatMessage, ChatRequest, ChatResult, Health, LlmProvider, ModelInfo, ModelSummary, ToolCall, WatchdogOptions } from './types';

export interface OpenAiProviderOptions extends WatchdogOptions {
  /** e.g. http://localhost:1234/v1. Without a /vN path segment at the end, /v1 is appended. */
  baseUrl: string;
  /** Read on every request (the VS Code side backs it with SecretStorage); undefined sends no key. */
  getApiKey?: () => Promise<string | undefined>;
  logger?: Logger;
}

export const OPENAI_DEFAULTS = { firstTokenTimeoutMs: 10 * 60_000, idleTimeoutMs: 2 * 60_000, requestTimeoutMs: 30_000 } as const;

class InvalidResponseError extends Error {
  override readonly name = 'InvalidResponseError';
}

export function normalizeOpenAiBase(url: string): string {
  const u = url.replace(/\/+$/, '');
  return /\/v\d+$/.test(new URL(u).pathname) ? u : `${u}/v1`;
}

interface ToolAcc {
  id?: string;
  name: string;
  args: string;
}

/**
 * Incremental SSE parser. `line` takes one line (without its line end) and returns the data of the event it
 * completes; `push` takes bytes that may split anywhere, including inside a multi-byte character or a line.
 */
export class SseParser {
  private decoder = new TextDecoder('utf-8');
  private buf = '';
  private data: string[] = [];

  /** One line of the stream; returns the data payload of the event a blank line completes. */
  line(line: string): string | undefined {
    if (line === '') {
      const out = this.data.length ? this.data.join('\n') : undefined;
      this.data = [];
      return out;
    }
    if (line.startsWith('data:')) this.data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
    // event:, id:, retry: and ": comments" carry nothing we need
    return undefined;
  }

  /** The end of the stream: the payload of a last event that had no blank line after it. */
  end(): string | undefined {
    if (this.buf) this.line(this.buf);
    this.buf = '';
    return this.line('');
  }

  /** Feeds bytes; returns the data payloads of the events completed by them. */
  push(bytes: Uint8Array | undefined, end = false): string[] {
    this.buf += bytes ? this.decoder.decode(bytes, { stream: !end }) : this.decoder.decode();
    const out: string[] = [];
    let nl: number;
    while ((nl = this.buf.indexOf('\n')) >= 0) {
      const p = this.line(this.buf.slice(0, nl > 0 && this.buf[nl - 1] === '\r' ? nl - 1 : nl));
      this.buf = this.buf.slice(nl + 1);
      if (p !== undefined) out.push(p);
    }
    if (end) {
      const p = this.end();
      if (p !== undefined) out.push(p);
    }
    return out;
  }
}

export class OpenAiProvider implements LlmProvider {
  readonly kind = 'openai' as const;
  readonly baseUrl: string;
  private readonly log: Logger;

  constructor(private readonly opts: OpenAiProviderOptions) {
    this.baseUrl = normalizeOpenAiBase(opts.baseUrl);
    this.log = opts.logger ?? nullLogger;
  }

  private async headers(): Promise<Record<string, string>> {
    const h: Record<string, string> = { 'Content-Type': 'application/json', Accept: 'application/json, text/event-stream' };
    const key = await this.opts.getApiKey?.();
    if (key) h.Authorization = `Bearer ${key}`;
    return h;
  }

  /** Sends a request; a non-2xx answer becomes HttpStatusError with the server's message (OpenAI or plain shape). */
  private async send(path: string, signal: AbortSignal, body?: unknown): Promise<Response> {
    const res = await nodeFetch(`${this.baseUrl}${path}`, {
      method: body === undefined ? 'GET' : 'POST',
      headers: await this.headers(),
      body: body === undefined ? undefined : JSON.stringify(body),
      signal,
    });
    if (res.ok) return res;
    throw openAiError(res.status, await res.text().catch(() => ''), res.statusText);
  }

  private ctx(model: string | undefined, signal: AbortSignal, wd?: Watchdog) {
    return { provider: 'openai' as const, baseUrl: this.baseUrl, model, signal, timeout: wd?.fired, streaming: wd?.streaming };
  }

  async chat(req: ChatRequest, signal: AbortSignal, onDelta?: (d: ChatDelta) => void): Promise<ChatResult> {
    const t0 = Date.now();
    const wd = new Watchdog(this.opts.firstTokenTimeoutMs ?? OPENAI_DEFAULTS.firstTokenTimeoutMs, this.opts.idleTimeoutMs ?? OPENAI_DEFAULTS.idleTimeoutMs);
    const body: Record<string, unknown> = {
      model: req.model,
      messages: req.messages.map(toOpenAiMessage),
      stream: true,
      stream_options: { include_usage: true },
      ...(req.options.temperature !== undefined && { temperature: req.options.temperature }),
      ...(req.options.numPredict !== undefined && { max_tokens: req.options.numPredict }),
      ...(req.options.stop !== undefined && { stop: req.options.stop }),
      ...(req.options.seed !== undefined && { seed: req.options.seed }),
    };
    if (req.tools?.length) body.tools = req.tools.map(t => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }));
    if (req.format === 'json') body.response_format = { type: 'json_object' };
    else if (req.format) body.response_format = { type: 'json_schema', json_schema: { name: 'reply', schema: req.format } };

    let content = '';
    let thinking = '';
    const acc: ToolAcc[] = [];
    let finish: string | undefined;
    let usage: { prompt_tokens?: number; completion_tokens?: number; prompt_tokens_details?: { cached_tokens?: number } } | undefined;
    let timings: { prompt_ms?: number; predicted_ms?: number } | undefined;
    let sawDone = false;
    let firstAt: number | undefined;
    let callbackError: { e: unknown } | undefined;
    let res: IncomingMessage | undefined;
    let complete = false;
    try {
      res = await request(`${this.baseUrl}/chat/completions`, { method: 'POST', headers: await this.headers(), body: JSON.stringify(body), signals: [signal], watchdog: wd });
      if ((res.statusCode ?? 500) >= 300) throw openAiError(res.statusCode ?? 500, await readText(res).catch(() => ''), res.statusMessage ?? '');
      const parser = new SseParser();
      const handle = (payload: string) => {
        if (payload.trim() === '[DONE]') {
          sawDone = true;
          return;
        }
        let ev: any;
        try {
          ev = JSON.parse(payload);
        } catch {
          throw new InBandError(`unreadable stream event: ${payload.slice(0, 200)}`);
        }
        if (ev.error) throw new InBandError(typeof ev.error === 'string' ? ev.error : ev.error.message ?? JSON.stringify(ev.error));
        if (ev.usage) usage = ev.usage;
        if (ev.timings) timings = ev.timings;
        const choice = ev.choices?.[0];
        if (!choice) return;
        const d = choice.delta ?? choice.message ?? {};
        const delta: ChatDelta = {};
        // llama.cpp and LM Studio put reasoning in reasoning_content; Ollama /v1 in reasoning
        const r = d.reasoning_content ?? d.reasoning;
        if (typeof r === 'string' && r) thinking += delta.thinking = r;
        if (typeof d.content === 'string' && d.content) content += delta.content = d.content;
        for (const tc of d.tool_calls ?? []) {
          const i = typeof tc.index === 'number' ? tc.index : acc.length;
          const a = (acc[i] ??= { name: '', args: '' });
          if (tc.id) a.id = tc.id;
          if (tc.function?.name) a.name += tc.function.name;
          if (tc.function?.arguments !== undefined) a.args += typeof tc.function.arguments === 'string' ? tc.function.arguments : JSON.stringify(tc.function.arguments);
        }
        if (choice.finish_reason) finish = choice.finish_reason;
        deliverDelta(onDelta, delta, e => (callbackError = { e }));
      };
      await readLines(
        res,
        (line, stop) => {
          const p = parser.line(line);
          if (p !== undefined) handle(p);
          if (sawDone) stop();
        },
        () => {
          wd.touch();
          firstAt ??= Date.now();
        },
      );
      const last = parser.end();
      if (last !== undefined) handle(last);
      // servers that omit [DONE] but sent a finish_reason finished properly
      if (!sawDone && !finish) throw new IncompleteStreamError('The stream ended without a finish reason or [DONE].');
      complete = true;
    } catch (e) {
      if (callbackError) throw callbackError.e;
      throw classifyProviderError(e, this.ctx(req.model, signal, wd));
    } finally {
      wd.stop();
      // a reply left unfinished (cancel, timeout, error) closes its socket, so the server stops generating
      if (!complete) res?.destroy();
    }
    const toolCalls: ToolCall[] = acc.filter(Boolean).map(a => {
      let args: unknown = {};
      if (a.args.trim()) {
        try {
          args = JSON.parse(a.args);
        } catch (e) {
          throw classifyProviderError(
            new InvalidResponseError(`${req.model} called ${a.name || 'a tool'} with arguments that are not valid JSON (${(e as Error).message}): ${a.args.slice(0, 200)}`),
            this.ctx(req.model, signal),
          );
        }
      }
      return { ...(a.id && { id: a.id }), name: a.name, arguments: (args && typeof args === 'object' ? args : {}) as Record<string, unknown> };
    });
    const end = Date.now();
    const estimate = estimateTokens(req.messages, req.tools ? JSON.stringify(req.tools) : '');
    return {
      content,
      ...(thinking && { thinking }),
      toolCalls,
      doneReason: finish ?? 'stop',
      promptTokens: usage?.prompt_tokens ?? 0,
      ...(typeof usage?.prompt_tokens_details?.cached_tokens === 'number' && { cachedTokens: usage.prompt_tokens_details.cached_tokens }),
      completionTokens: usage?.completion_tokens ?? 0,
      // llama.cpp reports timings; otherwise the best we know is the wall time of the reply
      modelMs: timings ? (timings.prompt_ms ?? 0) + (timings.predicted_ms ?? 0) : end - t0,
      ...(timings?.predicted_ms !== undefined && { promptMs: timings.prompt_ms ?? 0, evalMs: timings.predicted_ms }),
      totalMs: end - t0,
      loadMs: 0,
      // these servers do not take num_ctx, and a too-long prompt is an error there, so no truncation check
      estimatedPromptTokens: estimate,
    };
  }

  private short<T>(signal: AbortSignal, model: string | undefined, fn: (s: AbortSignal) => Promise<T>): Promise<T> {
    return withTimeout(signal, this.opts.requestTimeoutMs ?? OPENAI_DEFAULTS.requestTimeoutMs, async (s, wd) => {
      const call = new AbortController();
      try {
        return await fn(AbortSignal.any([s, call.signal]));
      } catch (e) {
        throw classifyProviderError(e, this.ctx(model, signal, wd));
      } finally {
        call.abort();
      }
    });
  }

  private async models(s: AbortSignal): Promise<Array<Record<string, any>>> {
    const res = await this.send('/models', s);
    const j = (await res.json()) as { data?: Array<Record<string, any>> };
    return Array.isArray(j.data) ? j.data : [];
  }

  listModels(signal: AbortSignal): Promise<ModelSummary[]> {
    return this.short(signal, undefined, async s => (await this.models(s)).map(m => ({ name: String(m.id) })));
  }

  /**
   * /v1/models says nothing standard about capabilities, so `capabilities` is ['completion'] with
   * capabilitiesKnown=false (the loop then uses the text tool protocol, which works everywhere).
   * The window comes from whichever non-standard field the server adds (vLLM max_model_len,
   * llama.cpp meta.n_ctx_train, LM Studio max_context_length).
   */
  probe(model: string, signal: AbortSignal): Promise<ModelInfo> {
    return this.short(signal, model, async s => {
      const list = await this.models(s);
      const m = list.find(x => x.id === model);
      if (!m) throw new HttpStatusError(404, `model "${model}" not found`);
      const n = m.max_model_len ?? m.context_length ?? m.max_context_length ?? m.meta?.n_ctx_train ?? m.meta?.n_ctx;
      return { capabilities: ['completion'], contextLength: typeof n === 'number' ? n : undefined, capabilitiesKnown: false };
    });
  }

  async health(signal: AbortSignal): Promise<Health> {
    try {
      await this.short(signal, undefined, s => this.models(s));
      return { ok: true };
    } catch (e) {
      if (signal.aborted) throw classifyProviderError(e, { signal });
      const pe = classifyProviderError(e, this.ctx(undefined, signal));
      this.log.debug(`OpenAI-compatible health check of ${this.baseUrl} failed: ${pe.message}`);
      return { ok: false, reason: pe.message };
    }
  }
}

/** An error answer as HttpStatusError with the server's own words (OpenAI's {"error": {...}}, a plain {"error"}, or text). */
function openAiError(status: number, text: string, statusText: string): HttpStatusError {
  let msg = text.trim() || statusText;
  try {
    const j = JSON.parse(text) as { error?: string | { message?: string; type?: string }; message?: string };
    const err = j.error;
    msg = typeof err === 'string' ? err : err?.message ? `${err.message}${err.type && /exceed_context/.test(err.type) ? ` (${err.type})` : ''}` : j.message ?? msg;
  } catch {
    // not JSON: keep the text
  }
  return new HttpStatusError(status, msg);
}

function toOpenAiMessage(m: ChatMessage): Record<string, unknown> {
  const out: Record<string, unknown> = { role: m.role, content: m.content };
  if (m.toolCalls?.length) {
    out.tool_calls = m.toolCalls.map((c, i) => ({ id: c.id ?? `call_${i}`, type: 'function', function: { name: c.name, arguments: JSON.stringify(c.arguments) } }));
  }
  if (m.role === 'tool') {
    if (m.toolCallId) out.tool_call_id = m.toolCallId;
    if (m.toolName) out.name = m.toolName;
  }
  return out;
}
