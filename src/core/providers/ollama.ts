/**
 * Ollama through its native API.
 * - Chat, the one call made every turn, streams NDJSON straight off node:http (`request` + `readLines`):
 *   the `ollama` package's path (a web stream, a TextDecoder, two async generators per line) cost more CPU
 *   per streamed token than the rest of a turn. A reply left unfinished destroys its socket, so the server
 *   stops generating.
 * - The other calls (list, show, ps, version, pull) go through the `ollama` package (0.6.4), pitfalls
 *   handled: its fetch is ours (`nodeFetch`, no undici 300 s headers timeout) and every call merges a
 *   per-call AbortSignal, so a request still waiting for headers can be cancelled; one client per call and
 *   `abort()` in `finally`, because breaking out of an iterator leaves the socket open.
 * - our own watchdogs (first token, idle between chunks);
 * - `num_ctx` on every request, pinned per model, because a change reloads the model;
 * - silent truncation detected from prompt_eval_count.
 */
import type { IncomingMessage } from 'node:http';
import { Ollama, type AbortableAsyncIterator, type ChatResponse, type ProgressResponse, type Message as OllamaMessage } from 'ollama';
import type { Logger } from '../ports';
import { nullLogger } from '../ports';
import { HttpStatusError, InBandError, IncompleteStreamError, ProviderError, classifyProviderError } from './errors';
import { FetchLike, PromptMemory, Watchdog, deliverDelta, estimateTokens, looksTruncated, nodeFetch, readLines, readText, request, withTimeout } from './http';
import type {
  ChatDelta, ChatMessage, ChatRequest, ChatResult, Health, LlmProvider, ModelInfo, ModelSummary, PullProgress, ToolCall, WatchdogOptions,
} from './types';

export interface OllamaProviderOptions extends WatchdogOptions {
  baseUrl: string;
  logger?: Logger;
  /** num_ctx for a model whose agent sets none. 8192 fits agent prompts and both target models' memory. */
  defaultNumCtx?: number;
  /** Configured per-model windows; these win over request values and the pin. */
  numCtxByModel?: Record<string, number>;
  headers?: Record<string, string>;
}

/** Defaults generous enough for CPU machines: a cold 16B load plus a long prompt on CPU takes minutes. */
export const OLLAMA_DEFAULTS = {
  firstTokenTimeoutMs: 10 * 60_000,
  idleTimeoutMs: 2 * 60_000,
  requestTimeoutMs: 30_000,
  defaultNumCtx: 8192,
} as const;

export class OllamaProvider implements LlmProvider {
  readonly kind = 'ollama' as const;
  readonly baseUrl: string;
  private readonly log: Logger;
  /** `baseUrl` as the `ollama` package reads it (scheme and port filled in): where chat requests go. */
  private readonly host: string;
  /** Parsed once: a URL parse per turn is measurable in the loop's CPU. */
  private readonly chatUrl: URL;
  private readonly headers: Record<string, string>;
  private readonly pinned = new Map<string, number>();
  private readonly maxCtx = new Map<string, number>();
  private readonly warned = new Set<string>();
  /** Recent prompts, to tell a cache hit from a cut on servers that count only evaluated prompt tokens. */
  private readonly prompts = new PromptMemory();

  constructor(private readonly opts: OllamaProviderOptions) {
    this.baseUrl = opts.baseUrl.replace(/\/+$/, '');
    this.log = opts.logger ?? nullLogger;
    this.host = ollamaHost(this.baseUrl);
    this.chatUrl = new URL(`${this.host}/api/chat`);
    // As the `ollama` package sends its own calls: a User-Agent, and for ollama.com the key from OLLAMA_API_KEY
    // unless the configured headers carry one, so chat and the short calls are authorised alike.
    const hasAuth = Object.keys(opts.headers ?? {}).some(k => k.toLowerCase() === 'authorization');
    const key = !hasAuth && new URL(this.host).hostname === 'ollama.com' && this.host.startsWith('https:') ? process.env.OLLAMA_API_KEY : undefined;
    this.headers = {
      'User-Agent': `ai2ai (${process.arch} ${process.platform} Node.js/${process.version})`,
      ...opts.headers,
      ...(key && { Authorization: `Bearer ${key}` }),
      'Content-Type': 'application/json',
      Accept: 'application/x-ndjson, application/json',
    };
  }

  /**
   * The num_ctx sent for `model`: a configured value, else the first value used for this model (from the
   * request or the default), kept from then on so that two agents on one model never make Ollama reload it.
   * Capped at the model's maximum once a probe has told us.
   */
  numCtxFor(model: string, requested?: number): number {
    const cap = (n: number) => Math.min(n, this.maxCtx.get(model) ?? Infinity);
    const configured = this.opts.numCtxByModel?.[model];
    if (configured) return cap(configured);
    const pinned = this.pinned.get(model);
    if (pinned !== undefined) {
      if (requested && requested !== pinned && !this.warned.has(model)) {
        this.warned.add(model);
        this.log.warn(`Ollama: keeping num_ctx ${pinned} for ${model} (asked for ${requested}); changing it would reload the model.`);
      }
      return pinned;
    }
    const v = cap(requested ?? this.opts.defaultNumCtx ?? OLLAMA_DEFAULTS.defaultNumCtx);
    this.pinned.set(model, v);
    return v;
  }

  /** An explicit, configured change of a model's window (the next request reloads the model once). */
  setNumCtx(model: string, numCtx: number): void {
    this.pinned.set(model, numCtx);
    this.warned.delete(model);
  }

  /** A client whose every request carries `signal` (merged with the package's own per-stream signal). */
  private client(signal: AbortSignal): Ollama {
    const f: FetchLike = async (input, init) => {
      const merged = init?.signal ? AbortSignal.any([init.signal, signal]) : signal;
      const res = await nodeFetch(input, { ...init, signal: merged });
      if (!res.ok && !(res.headers.get('content-type') ?? '').includes('application/json')) {
        // The package console.logs while reading a text error body (503 busy, 404 page): give it JSON.
        const text = (await res.text()).trim();
        return new Response(JSON.stringify({ error: text || res.statusText }), {
          status: res.status, statusText: res.statusText, headers: { 'content-type': 'application/json' },
        });
      }
      return res;
    };
    return new Ollama({ host: this.baseUrl, fetch: f as typeof fetch, headers: this.opts.headers });
  }

  private ctx(model: string | undefined, signal: AbortSignal, wd?: Watchdog, numCtx?: number) {
    return { provider: 'ollama' as const, baseUrl: this.baseUrl, model, signal, timeout: wd?.fired, streaming: wd?.streaming, numCtx };
  }

  async chat(req: ChatRequest, signal: AbortSignal, onDelta?: (d: ChatDelta) => void): Promise<ChatResult> {
    const t0 = Date.now();
    const numCtx = this.numCtxFor(req.model, req.options.numCtx);
    const wd = new Watchdog(
      this.opts.firstTokenTimeoutMs ?? OLLAMA_DEFAULTS.firstTokenTimeoutMs,
      this.opts.idleTimeoutMs ?? OLLAMA_DEFAULTS.idleTimeoutMs,
    );
    const tools = req.tools?.length
      ? req.tools.map(t => ({ type: 'function', function: { name: t.name, description: t.description, parameters: t.parameters } }))
      : undefined;
    const body = withMessages(req.messages, {
      model: req.model,
      tools,
      format: req.format,
      keep_alive: req.keepAlive,
      think: req.think,
      stream: true,
      options: {
        num_ctx: numCtx,
        ...(req.options.temperature !== undefined && { temperature: req.options.temperature }),
        ...(req.options.numPredict !== undefined && { num_predict: req.options.numPredict }),
        ...(req.options.stop !== undefined && { stop: req.options.stop }),
        ...(req.options.seed !== undefined && { seed: req.options.seed }),
      },
    });
    let content = '';
    let thinking = '';
    const toolCalls: ToolCall[] = [];
    let final: ChatResponse | undefined;
    let callbackError: { e: unknown } | undefined;
    let res: IncomingMessage | undefined;
    try {
      res = await request(this.chatUrl, { method: 'POST', headers: this.headers, body, signals: [signal], watchdog: wd });
      if ((res.statusCode ?? 500) >= 300) throw await statusError(res);
      await readLines(
        res,
        (line, stop) => {
          if (!line) return;
          let chunk: ChatResponse & { error?: unknown };
          try {
            chunk = JSON.parse(line);
          } catch {
            this.log.warn(`Ollama: skipped a line of ${req.model}'s reply that is not JSON: ${line.slice(0, 200)}`);
            return;
          }
          if (chunk.error !== undefined) throw new InBandError(String(chunk.error));
          const m = chunk.message;
          if (m) {
            const delta: ChatDelta = {};
            if (m.thinking) thinking += delta.thinking = m.thinking;
            if (m.content) content += delta.content = m.content;
            if (m.tool_calls) for (const c of m.tool_calls) toolCalls.push(fromOllamaToolCall(c));
            deliverDelta(onDelta, delta, e => (callbackError = { e }));
          }
          if (chunk.done) {
            final = chunk;
            stop();
          }
        },
        () => wd.touch(),
      );
    } catch (e) {
      if (callbackError) throw callbackError.e;
      throw classifyProviderError(e, this.ctx(req.model, signal, wd, numCtx));
    } finally {
      wd.stop();
      // a reply left unfinished (cancel, timeout, error) closes its socket, so the server stops generating
      if (!final) res?.destroy();
    }
    if (!final) throw classifyProviderError(new IncompleteStreamError('Did not receive done or success response in stream.'), this.ctx(req.model, signal, wd, numCtx));
    const extra = req.tools ? JSON.stringify(req.tools) : '';
    const estimate = estimateTokens(req.messages, extra);
    // Only servers that report their prompt cache send it (ollama PR #17943); the package's types predate it.
    const cachedCount = (final as { prompt_eval_cached_count?: number }).prompt_eval_cached_count;
    const truncated = looksTruncated({
      estimate, promptEvalCount: final.prompt_eval_count, cachedCount, numCtx, uncachedEstimate: this.prompts.uncached(req.model, req.messages, extra, estimate),
    });
    this.prompts.remember(req.model, req.messages, content);
    if (truncated) {
      this.log.warn(`Ollama: ${req.model} evaluated ${final.prompt_eval_count} prompt tokens of about ${estimate} sent (num_ctx ${numCtx}); the prompt was cut silently.`);
    }
    return {
      content,
      ...(thinking && { thinking }),
      toolCalls,
      doneReason: final.done_reason || 'unknown',
      promptTokens: final.prompt_eval_count ?? 0,
      ...(cachedCount !== undefined && { cachedTokens: cachedCount }),
      completionTokens: final.eval_count ?? 0,
      modelMs: ((final.prompt_eval_duration ?? 0) + (final.eval_duration ?? 0)) / 1e6,
      ...(final.eval_duration !== undefined && { promptMs: (final.prompt_eval_duration ?? 0) / 1e6, evalMs: final.eval_duration / 1e6 }),
      totalMs: Date.now() - t0,
      loadMs: (final.load_duration ?? 0) / 1e6,
      truncated,
      estimatedPromptTokens: estimate,
      numCtx,
    };
  }

  /** A short call (list, show, version, ps) under the request timeout. */
  private short<T>(signal: AbortSignal, model: string | undefined, fn: (c: Ollama) => Promise<T>): Promise<T> {
    return withTimeout(signal, this.opts.requestTimeoutMs ?? OLLAMA_DEFAULTS.requestTimeoutMs, async (s, wd) => {
      const c = this.client(s);
      try {
        return await fn(c);
      } catch (e) {
        throw classifyProviderError(e, this.ctx(model, signal, wd));
      } finally {
        c.abort();
      }
    });
  }

  listModels(signal: AbortSignal): Promise<ModelSummary[]> {
    return this.short(signal, undefined, async c => {
      const r = await c.list();
      return (r.models ?? []).map(m => ({
        name: m.name,
        family: m.details?.family,
        parameterSize: m.details?.parameter_size,
        quantization: m.details?.quantization_level,
        sizeBytes: m.size,
      }));
    });
  }

  probe(model: string, signal: AbortSignal): Promise<ModelInfo> {
    return this.short(signal, model, async c => {
      const r = await c.show({ model });
      // model_info is a plain object at runtime despite the package's Map type
      const info = (r.model_info ?? {}) as unknown as Record<string, unknown>;
      const arch = typeof info['general.architecture'] === 'string' ? (info['general.architecture'] as string) : r.details?.family;
      const key = arch && typeof info[`${arch}.context_length`] === 'number' ? `${arch}.context_length` : Object.keys(info).find(k => k.endsWith('.context_length'));
      const contextLength = key ? (info[key] as number) : undefined;
      if (contextLength) this.maxCtx.set(model, contextLength);
      const known = Array.isArray(r.capabilities);
      return { capabilities: known ? r.capabilities : ['completion'], contextLength, family: arch, capabilitiesKnown: known };
    });
  }

  async health(signal: AbortSignal): Promise<Health> {
    try {
      const v = await this.short(signal, undefined, c => c.version());
      return { ok: true, version: v.version };
    } catch (e) {
      if (signal.aborted) throw classifyProviderError(e, { signal });
      return { ok: false, reason: classifyProviderError(e, this.ctx(undefined, signal)).message };
    }
  }

  /** Models loaded right now (`/api/ps`): the scheduler prefers agents whose model is warm. */
  loadedModels(signal: AbortSignal): Promise<Array<{ name: string; contextLength?: number; expiresAt?: string }>> {
    return this.short(signal, undefined, async c => {
      const r = await c.ps();
      return (r.models ?? []).map(m => ({
        name: m.name,
        contextLength: (m as unknown as { context_length?: number }).context_length,
        expiresAt: m.expires_at ? String(m.expires_at) : undefined,
      }));
    });
  }

  /** Downloads a model, reporting progress. Only the idle watchdog applies: big downloads take long but never go silent. */
  async pull(model: string, onProgress: (p: PullProgress) => void, signal: AbortSignal): Promise<void> {
    const idle = this.opts.idleTimeoutMs ?? OLLAMA_DEFAULTS.idleTimeoutMs;
    const wd = new Watchdog(Math.max(idle, this.opts.requestTimeoutMs ?? OLLAMA_DEFAULTS.requestTimeoutMs), idle);
    const client = this.client(AbortSignal.any([signal, wd.signal]));
    let iterator: AbortableAsyncIterator<ProgressResponse> | undefined;
    let success = false;
    try {
      iterator = await client.pull({ model, stream: true });
      for await (const p of iterator) {
        wd.touch();
        const percent = p.total ? Math.min(100, Math.round(((p.completed ?? 0) / p.total) * 1000) / 10) : undefined;
        onProgress({ status: p.status, digest: p.digest || undefined, total: p.total || undefined, completed: p.completed ?? undefined, percent });
        if (p.status === 'success') success = true;
      }
    } catch (e) {
      const raw = e instanceof Error ? e.message : String(e);
      if (!signal.aborted && !wd.fired && /pull model manifest/i.test(raw)) {
        const missing = /file does not exist|not found/i.test(raw);
        throw new ProviderError(
          missing ? 'model_not_found' : 'connection',
          missing
            ? `Ollama's library has no model named ${model}. Check the name (for example gemma3:1b or deepseek-coder-v2:16b).`
            : `Ollama could not download ${model}: ${raw}. Check the internet connection of the machine running Ollama, then pull again.`,
          { serverMessage: raw, cause: e, retryable: !missing },
        );
      }
      throw classifyProviderError(e, this.ctx(model, signal, wd));
    } finally {
      wd.stop();
      iterator?.abort();
      client.abort();
    }
    if (!success) throw classifyProviderError(new Error('Did not receive done or success response in stream.'), this.ctx(model, signal, wd));
  }
}

/**
 * A host as the `ollama` package completes it, so chat (ours) and the short calls (the package's) reach the
 * same server: no scheme means http and Ollama's port 11434; ":11434" means 127.0.0.1.
 */
export function ollamaHost(baseUrl: string): string {
  let host = baseUrl.trim() || 'http://127.0.0.1:11434';
  let explicit = host.includes('://');
  if (host.startsWith(':')) {
    host = `http://127.0.0.1${host}`;
    explicit = true;
  }
  if (!explicit) host = `http://${host}`;
  const url = new URL(host);
  const port = url.port || (!explicit ? '11434' : url.protocol === 'https:' ? '443' : '80');
  const auth = url.username ? `${url.username}${url.password ? `:${url.password}` : ''}@` : '';
  return `${url.protocol}//${auth}${url.hostname}:${port}${url.pathname}`.replace(/\/+$/, '');
}

/** An error answer (before any of the reply), read whole: Ollama's {"error": "..."}, or the text of a proxy's page. */
async function statusError(res: IncomingMessage): Promise<HttpStatusError> {
  const text = (await readText(res)).trim();
  let msg = text || res.statusMessage || `HTTP ${res.statusCode}`;
  try {
    const j = JSON.parse(text) as { error?: unknown };
    if (typeof j.error === 'string' && j.error) msg = j.error;
  } catch {
    // not JSON: keep the text
  }
  return new HttpStatusError(res.statusCode ?? 500, msg);
}

/**
 * The request body: `rest` as JSON with the conversation's messages in front, each serialised once per
 * message object (a conversation is sent whole every turn and grows by a message or two; re-serialising
 * all of it each turn made a turn's cost grow with the conversation). A message whose content changed
 * (condensed) is serialised again.
 */
function withMessages(messages: readonly ChatMessage[], rest: Record<string, unknown>): string {
  const parts = messages.map(messageJson);
  return `{"messages":[${parts.join(',')}],${JSON.stringify(rest).slice(1)}`;
}

const serialised = new WeakMap<ChatMessage, { content: string; json: string }>();

function messageJson(m: ChatMessage): string {
  const hit = serialised.get(m);
  if (hit && hit.content === m.content) return hit.json;
  const json = JSON.stringify(toOllamaMessage(m));
  serialised.set(m, { content: m.content, json });
  return json;
}

function toOllamaMessage(m: ChatMessage): OllamaMessage {
  const out: OllamaMessage = { role: m.role, content: m.content };
  if (m.toolCalls?.length) out.tool_calls = m.toolCalls.map(c => ({ function: { name: c.name, arguments: c.arguments } }));
  if (m.toolName) out.tool_name = m.toolName;
  return out;
}

function fromOllamaToolCall(c: unknown): ToolCall {
  const o = c as { id?: string; function?: { name?: string; arguments?: unknown } };
  let args = o.function?.arguments;
  // some servers (and older Ollama builds behind proxies) send the arguments as a JSON string
  if (typeof args === 'string') {
    try {
      args = JSON.parse(args);
    } catch {
      args = { _raw: args };
    }
  }
  return { ...(o.id && { id: o.id }), name: o.function?.name ?? '', arguments: (args && typeof args === 'object' ? args : {}) as Record<string, unknown> };
}
