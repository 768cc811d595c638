/**
 * A protocol-faithful fake Ollama (test fixture, never shipped). Real HTTP on 127.0.0.1, port 0.
 * It reproduces the behaviours listed in the project's Ollama facts sheet: NDJSON by default, fragmented
 * writes, exact chunk shapes, errors before and after the 200, load/queue latency without headers,
 * slots per model and the 503 queue limit, loaded models with keep_alive and swaps (scheduler.ts), a prompt
 * cache per slot (promptCache.ts), disconnect handling with counters, silent truncation, tool-call gaps,
 * and an OpenAI-compatible /v1 surface (see openai.ts). Simulated delays are multiplied by `timeScale`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  FakeModelSpec, LoadedModel, defaultModels, normalizeName, parseKeepAlive, psEntry, registryName, showBody, tagsEntry, digestOf,
} from './catalog';
import { ChatRequestView, GenStats, ReplyScript, ScriptedReply, Sink, ToolCallOut, pieces, sampleFromSchema, sleep } from './script';
import { CacheSlot, pickSlot, promptTokens, truncateTokens } from './promptCache';
import { Runner, Scheduler } from './scheduler';
import { handleOpenAi } from './openai';
import { embed, pull } from './endpoints';
import { nativeJsonSink, nativeStreamSink } from './native';

export * from './catalog';
export * from './script';
export * from './promptCache';

export interface FakeOllamaOptions {
  models?: FakeModelSpec[];
  /** Models /api/pull can fetch (default: the default catalog). */
  registry?: FakeModelSpec[];
  /** OLLAMA_NUM_PARALLEL: slots per loaded model (a model's `numParallel` overrides it). Default 1. */
  numParallel?: number;
  /** OLLAMA_MAX_QUEUE: requests waiting (for a model or a slot) beyond this get the 503. Default 512. */
  maxQueue?: number;
  /** OLLAMA_MAX_LOADED_MODELS: loading one more unloads one first; 0 = no limit. Default 3 (Ollama's 3 per GPU, one GPU). */
  maxLoadedModels?: number;
  /** Memory for loaded models in bytes (their `sizeBytes`); a model that does not fit beside the loaded ones unloads one. Default Infinity. */
  memoryBytes?: number;
  /** OLLAMA_KEEP_ALIVE: how long (real ms, times keepAliveScale) a model stays loaded when no request sent keep_alive. Default 5 min. */
  defaultKeepAliveMs?: number;
  /** OLLAMA_MULTIUSER_CACHE: place requests on slots to keep several conversations cached (see promptCache.ts). Default false. */
  multiUserCache?: boolean;
  /**
   * What the final chunk reports about a prompt that was partly cached. 'new' (default, Ollama after PR #16428
   * and #17943): prompt_eval_count is the whole prompt and prompt_eval_cached_count the part read from the
   * cache (/v1: usage.prompt_tokens and usage.prompt_tokens_details.cached_tokens). 'old' (before the fix of
   * ollama#2068/#3427): prompt_eval_count counts only the tokens evaluated, and no cached count is sent.
   */
  promptCountMode?: 'new' | 'old';
  /** Multiplies every simulated delay (load, prompt eval, tokens). Default 0.001: a 3 s load takes 3 ms. */
  timeScale?: number;
  loadMs?: number;
  promptTokensPerSec?: number;
  tokensPerSec?: number;
  /** Multiplies keep_alive durations (real time). Default 1. */
  keepAliveScale?: number;
  /** num_ctx when a request sends none (Ollama's default on small GPUs). */
  defaultNumCtx?: number;
  /** Bytes per socket write for streamed bodies; 0 writes whole lines. */
  fragmentBytes?: number;
  /** 'model' follows each model's spec; the others force one behaviour for every model. */
  contextOverflow?: 'model' | 'truncate' | 'error';
  /** /api/pull fails after "pulling manifest" like an Ollama without network. */
  offline?: boolean;
  /** When set, /v1/* requires `Authorization: Bearer <apiKey>`. */
  apiKey?: string;
  version?: string;
  /** The reply when no script is queued for the model (default {}: "OK", or JSON fitting `format`). */
  defaultReply?: ReplyScript;
  /** Listen on this port (default: a free one), e.g. to bring a server back where it was. */
  port?: number;
}

export interface FakeCounters {
  /** Chat requests that passed validation. */
  requests: number;
  completed: number;
  /** Client went away before the response ended. */
  aborted: number;
  abortedWhile: { queued: number; loading: number; generating: number };
  /** Requests holding a slot (loading the model or generating), over all models. */
  active: number;
  maxActive: number;
  /** Requests waiting without headers: for the scheduler (a load or swap) or for a slot. */
  queued: number;
  maxQueued: number;
  rejectedBusy: number;
  /** Model loads started (a reload included). */
  loads: number;
  /** Loads because num_ctx changed. */
  reloads: number;
  /** Models unloaded: keep_alive expiry, keep_alive 0, a swap or a reload. */
  unloads: number;
  /** Unloads to make room for another model (OLLAMA_MAX_LOADED_MODELS or memory). */
  evictions: number;
  truncated: number;
  tokensGenerated: number;
  /** Prompt tokens of every generation started: the logical prompt, cached or not. */
  promptTokens: number;
  /** Of those, the tokens the server evaluated (not read from a slot's cache). */
  promptTokensEvaluated: number;
  /** The same, per model (normalized name, e.g. "gemma3:1b"). */
  activeByModel: Record<string, number>;
  maxActiveByModel: Record<string, number>;
  queuedByModel: Record<string, number>;
  loadsByModel: Record<string, number>;
  unloadsByModel: Record<string, number>;
  evictionsByModel: Record<string, number>;
  promptTokensByModel: Record<string, number>;
  promptTokensEvaluatedByModel: Record<string, number>;
}

/** One generation as the server placed it (recorded when its prompt evaluation starts). */
export interface GenerationRecord {
  model: string;
  api: 'native' | 'openai';
  /** The slot it ran on (0-based). */
  slot: number;
  promptTokens: number;
  /** Read from the slot's cache. */
  cachedTokens: number;
  /** Evaluated: promptTokens - cachedTokens. */
  evaluatedTokens: number;
  /** It waited for the model to load. */
  coldLoad: boolean;
}

/** A slot of a loaded model, for tests. */
export interface SlotView {
  id: number;
  inUse: boolean;
  /** Tokens its cache holds. */
  cachedTokens: number;
}

export interface RecordedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** Parsed JSON when the body is JSON, else the raw text ('' for none). */
  body: any;
  at: number;
}

export interface FakeOllama {
  url: string;
  port: number;
  options: Required<Omit<FakeOllamaOptions, 'apiKey' | 'port'>> & { apiKey?: string };
  counters: FakeCounters;
  requests: RecordedRequest[];
  /** Every generation in the order its prompt evaluation started. */
  generations: GenerationRecord[];
  /** Queue replies for a model; each chat request to it takes the next one. */
  script(model: string, ...replies: ReplyScript[]): void;
  /** A function consulted when the model's queue is empty (before defaultReply). */
  onChat(fn?: (req: ChatRequestView) => ScriptedReply | Promise<ScriptedReply>): void;
  setModels(models: FakeModelSpec[]): void;
  addModel(model: FakeModelSpec): void;
  /** Loaded (and loading) models, the longest keep_alive left first, as /api/ps lists them. */
  loaded(): LoadedModel[];
  /** Like `ollama stop` for every model: unloads each once idle. */
  unloadAll(): void;
  /** The slots of a loaded model ([] when it is not loaded). */
  slots(model: string): SlotView[];
  requestsTo(path: string): RecordedRequest[];
  /** Polls until `pred` is true; rejects with `what` after timeoutMs. */
  waitFor(pred: () => boolean, timeoutMs?: number, what?: string): Promise<void>;
  close(): Promise<void>;
}

export class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Everything a chat needs after the wire-format-specific parsing. */
export interface ChatJob {
  api: 'native' | 'openai';
  model: string;
  spec: FakeModelSpec;
  messages: Array<{ role: string; content: string }>;
  numCtx: number;
  numPredict?: number;
  format?: unknown;
  think: boolean;
  /** keep_alive in ms (Infinity: forever); undefined when the request sent none. */
  keepAliveMs?: number;
  view: ChatRequestView;
  extraPromptText: string;
}

export interface FakeInternals {
  fake: FakeOllama;
  findModel(name: string): FakeModelSpec | undefined;
  runChat(job: ChatJob, res: http.ServerResponse, signal: AbortSignal, makeSink: (reply: ScriptedReply) => Sink): Promise<void>;
  writer(res: http.ServerResponse, contentType: string, fragmentBytes: number, signal: AbortSignal): (text: string) => Promise<void>;
  clientGone(res: http.ServerResponse): AbortSignal;
}

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

const now = () => new Date().toISOString();

export async function startFakeOllama(opts: FakeOllamaOptions = {}): Promise<FakeOllama> {
  const options: FakeOllama['options'] = {
    models: opts.models ?? defaultModels(),
    registry: opts.registry ?? defaultModels(),
    numParallel: opts.numParallel ?? 1,
    maxQueue: opts.maxQueue ?? 512,
    maxLoadedModels: opts.maxLoadedModels ?? 3,
    memoryBytes: opts.memoryBytes ?? Infinity,
    defaultKeepAliveMs: opts.defaultKeepAliveMs ?? 5 * 60_000,
    multiUserCache: opts.multiUserCache ?? false,
    promptCountMode: opts.promptCountMode ?? 'new',
    timeScale: opts.timeScale ?? 0.001,
    loadMs: opts.loadMs ?? 3000,
    promptTokensPerSec: opts.promptTokensPerSec ?? 1000,
    tokensPerSec: opts.tokensPerSec ?? 50,
    keepAliveScale: opts.keepAliveScale ?? 1,
    defaultNumCtx: opts.defaultNumCtx ?? 4096,
    fragmentBytes: opts.fragmentBytes ?? 0,
    contextOverflow: opts.contextOverflow ?? 'model',
    offline: opts.offline ?? false,
    apiKey: opts.apiKey,
    version: opts.version ?? '0.12.6',
    defaultReply: opts.defaultReply ?? {},
  };
  const counters: FakeCounters = {
    requests: 0, completed: 0, aborted: 0, abortedWhile: { queued: 0, loading: 0, generating: 0 }, active: 0, maxActive: 0,
    queued: 0, maxQueued: 0, rejectedBusy: 0, loads: 0, reloads: 0, unloads: 0, evictions: 0, truncated: 0, tokensGenerated: 0,
    promptTokens: 0, promptTokensEvaluated: 0,
    activeByModel: {}, maxActiveByModel: {}, queuedByModel: {}, loadsByModel: {}, unloadsByModel: {}, evictionsByModel: {},
    promptTokensByModel: {}, promptTokensEvaluatedByModel: {},
  };
  const bump = (rec: Record<string, number>, key: string, by = 1) => (rec[key] = (rec[key] ?? 0) + by);
  const requests: RecordedRequest[] = [];
  const generations: GenerationRecord[] = [];
  const queues = new Map<string, ReplyScript[]>();
  let chatFn: ((req: ChatRequestView) => ScriptedReply | Promise<ScriptedReply>) | undefined;
  // the scheduler reads the options object itself, so a test may change numParallel or keep_alive settings between requests
  const sched = new Scheduler(options, {
    loaded(key, reload) {
      counters.loads++;
      bump(counters.loadsByModel, key);
      if (reload) counters.reloads++;
    },
    unloaded(key, evicted) {
      counters.unloads++;
      bump(counters.unloadsByModel, key);
      if (evicted) {
        counters.evictions++;
        bump(counters.evictionsByModel, key);
      }
    },
  });

  const findModel = (name: string) => options.models.find(m => normalizeName(m.name) === normalizeName(name));

  async function nextReply(job: ChatJob): Promise<ScriptedReply> {
    const q = queues.get(normalizeName(job.model));
    const s: ReplyScript | undefined = q && q.length > 0 ? q.shift() : chatFn ?? options.defaultReply;
    const r = typeof s === 'function' ? await s(job.view) : s;
    return r ?? {};
  }

  function writer(res: http.ServerResponse, contentType: string, fragmentBytes: number, signal: AbortSignal) {
    return async (text: string) => {
      if (signal.aborted) throw new Error('aborted');
      if (!res.headersSent) res.writeHead(200, { 'Content-Type': contentType });
      const buf = Buffer.from(text, 'utf8');
      if (!fragmentBytes) {
        res.write(buf);
        return;
      }
      for (let i = 0; i < buf.length; i += fragmentBytes) {
        res.write(buf.subarray(i, i + fragmentBytes));
        // a real pause so the pieces leave as separate TCP segments instead of being coalesced
        await sleep(1, signal);
      }
    };
  }

  function clientGone(res: http.ServerResponse): AbortSignal {
    const ctl = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) ctl.abort();
    });
    return ctl.signal;
  }

  async function runChat(job: ChatJob, res: http.ServerResponse, signal: AbortSignal, makeSink: (r: ScriptedReply) => Sink) {
    const reply = await nextReply(job);
    if (reply.status) throw new HttpError(reply.status, reply.error ?? 'scripted error');
    counters.requests++;
    const key = normalizeName(job.spec.name);
    const scale = options.timeScale;
    const t0 = Date.now();
    let phase: 'queued' | 'loading' | 'generating' = 'queued';
    let queued = false;
    // waiting for a load, a swap or a slot: no headers meanwhile; a full queue is the 503
    const onWait = () => {
      if (queued) return;
      if (counters.queued >= options.maxQueue) {
        counters.rejectedBusy++;
        throw new HttpError(503, 'server busy, please try again.  maximum pending requests exceeded');
      }
      queued = true;
      counters.queued++;
      counters.maxQueued = Math.max(counters.maxQueued, counters.queued);
      bump(counters.queuedByModel, key);
    };
    const unqueue = () => {
      if (!queued) return;
      queued = false;
      counters.queued--;
      bump(counters.queuedByModel, key, -1);
    };
    let runner: Runner | undefined;
    let holding = false;
    let slot: CacheSlot | undefined;
    try {
      if (job.messages.length === 0 && job.keepAliveMs === 0) {
        // an empty chat with keep_alive 0 unloads the model (once idle) without loading it first
        sched.expireNow(key);
        sendJson(res, 200, { model: job.model, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: 'unload', done: true });
        counters.completed++;
        return;
      }
      runner = await sched.getRunner({ key, spec: job.spec, numCtx: job.numCtx, keepAliveMs: job.keepAliveMs }, signal, onWait);
      const coldLoad = runner.loading;
      if (job.messages.length === 0) {
        // an empty chat only loads the model; it takes no slot
        unqueue();
        phase = 'loading';
        await runner.whenReady(signal);
        sendJson(res, 200, { model: job.model, created_at: now(), message: { role: 'assistant', content: '' }, done_reason: 'load', done: true });
        counters.completed++;
        return;
      }
      await runner.acquire(signal, onWait);
      holding = true;
      unqueue();
      counters.active++;
      counters.maxActive = Math.max(counters.maxActive, counters.active);
      const activeHere = bump(counters.activeByModel, key);
      counters.maxActiveByModel[key] = Math.max(counters.maxActiveByModel[key] ?? 0, activeHere);
      phase = 'loading';
      await runner.whenReady(signal);
      // a warm model still reports ~1 ms of load_duration; a request that waited for a load reports the load
      const loadSimMs = coldLoad ? runner.loadSimMs : 1.3;

      let prompt = promptTokens(job.messages, job.extraPromptText);
      const overflow = options.contextOverflow === 'model' ? job.spec.overflow ?? 'truncate' : options.contextOverflow;
      if (prompt.length > job.numCtx) {
        if (overflow === 'error') {
          throw new HttpError(400, `the prompt is longer than the context length currently available to the model; prompt has ${prompt.length} tokens, context length is ${job.numCtx}`);
        }
        // Ollama drops old messages and cuts to about half the window, answers 200 and only logs a warning
        counters.truncated++;
        prompt = truncateTokens(prompt, Math.floor(job.numCtx / 2));
      }
      const promptCount = prompt.length;
      const placed = pickSlot(runner.slots, prompt, options.multiUserCache);
      slot = placed.slot;
      slot.inUse = true;
      slot.lastUsed = Date.now();
      // a fully cached prompt still evaluates its last token, to sample the first reply token from (the runner's LoadCacheSlot)
      const cached = Math.min(placed.reused, promptCount - 1);
      const evaluated = promptCount - cached;
      slot.tokens = prompt.slice(0, cached);
      counters.promptTokens += promptCount;
      counters.promptTokensEvaluated += evaluated;
      bump(counters.promptTokensByModel, key, promptCount);
      bump(counters.promptTokensEvaluatedByModel, key, evaluated);
      generations.push({ model: key, api: job.api, slot: slot.id, promptTokens: promptCount, cachedTokens: cached, evaluatedTokens: evaluated, coldLoad });

      // time to first token: only the uncached part of the prompt is evaluated
      const promptSimMs = (evaluated / options.promptTokensPerSec) * 1000;
      const tps = job.spec.tokensPerSec ?? options.tokensPerSec;
      const pieceDelay = reply.pieceDelayMs ?? (1000 / tps) * scale;
      phase = 'generating';
      await sleep(promptSimMs * scale + (reply.delayMs ?? 0), signal);
      slot.tokens = prompt;
      const cache = slot.tokens;
      if (reply.stallAfter === 0) await sleep(Infinity, signal);

      const sink = makeSink(reply);
      let evalCount = 0;
      const emit = async (p: { content?: string; thinking?: string }) => {
        await sleep(pieceDelay, signal);
        evalCount++;
        counters.tokensGenerated++;
        // the generated tokens go into the slot's cache too
        cache.push(p.content ?? p.thinking ?? '');
        await sink.piece(p);
      };
      if (job.think && reply.thinking) for (const p of pieces(reply.thinking)) await emit({ thinking: p });
      // unscripted content: JSON fitting `format` when one is set, "OK" for a plain reply, nothing beside tool calls
      let content = reply.content ?? (reply.toolCalls?.length ? '' : 'OK');
      if (job.format !== undefined && job.format !== null && job.format !== '' && reply.content === undefined) {
        content = JSON.stringify(reply.json !== undefined ? reply.json : job.format === 'json' ? {} : sampleFromSchema(job.format));
      }
      let ps = pieces(content, reply.pieceChars);
      let doneReason: 'stop' | 'length' = reply.doneReason ?? 'stop';
      if (job.numPredict !== undefined && job.numPredict >= 0 && ps.length > job.numPredict) {
        ps = ps.slice(0, job.numPredict);
        doneReason = 'length';
      }
      for (let i = 0; i < ps.length; i++) {
        if (reply.errorAfter === i) return await failMid(sink, reply);
        if (reply.stallAfter === i && i > 0) await sleep(Infinity, signal);
        await emit({ content: ps[i] });
      }
      if (reply.toolCalls && reply.toolCalls.length > 0) {
        // the model generates the call silently; Ollama's parser emits it whole when complete
        const hidden = pieces(JSON.stringify(reply.toolCalls));
        await sleep(pieceDelay * hidden.length, signal);
        evalCount += hidden.length;
        counters.tokensGenerated += hidden.length;
        cache.push(...hidden);
        const calls: ToolCallOut[] = reply.toolCalls.map((c, i) => ({
          id: `call_${digestOf(`${c.name}${i}${Date.now()}`).slice(0, 8)}`, name: c.name, arguments: c.arguments, rawArguments: c.rawArguments,
        }));
        await sink.toolCalls(calls);
      }
      if (reply.errorAfter !== undefined && reply.errorAfter >= ps.length) return await failMid(sink, reply);
      if (reply.stallAfter !== undefined && reply.stallAfter >= ps.length && reply.stallAfter > 0) await sleep(Infinity, signal);
      if (reply.endWithoutDone) {
        await sink.endWithoutDone();
        counters.completed++;
        return;
      }
      const evalSimMs = (evalCount / tps) * 1000;
      const old = options.promptCountMode === 'old';
      const stats: GenStats = {
        doneReason,
        loadNs: Math.round(loadSimMs * 1e6),
        promptEvalCount: reply.promptEvalCount ?? (old ? evaluated : promptCount),
        promptCachedCount: old ? undefined : cached,
        promptEvalNs: Math.round(promptSimMs * 1e6),
        evalCount,
        evalNs: Math.round(evalSimMs * 1e6),
        totalNs: Math.round((loadSimMs + promptSimMs + evalSimMs) * 1e6 + (Date.now() - t0) * 1e3),
      };
      await sink.done(stats);
      counters.completed++;
    } catch (e) {
      if (signal.aborted) {
        counters.aborted++;
        counters.abortedWhile[phase]++;
        return;
      }
      throw e;
    } finally {
      unqueue();
      if (slot) slot.inUse = false;
      if (holding) {
        counters.active--;
        bump(counters.activeByModel, key, -1);
        runner!.release();
      }
      if (runner) sched.done(runner);
    }
  }

  async function failMid(sink: Sink, reply: ScriptedReply) {
    await sink.midStreamError(reply.midStreamError ?? 'an error was encountered while running the model: unexpected EOF');
  }

  const fake: FakeOllama = {
    url: '',
    port: 0,
    options,
    counters,
    requests,
    generations,
    script(model, ...replies) {
      const k = normalizeName(model);
      queues.set(k, [...(queues.get(k) ?? []), ...replies]);
    },
    onChat(fn) {
      chatFn = fn;
    },
    setModels(models) {
      options.models = [...models];
    },
    addModel(model) {
      options.models = [...options.models.filter(m => m.name !== model.name), model];
    },
    loaded: () => sched.list(),
    unloadAll: () => sched.unloadAll(),
    slots: model => (sched.runners.get(normalizeName(model))?.slots ?? []).map(x => ({ id: x.id, inUse: x.inUse, cachedTokens: x.tokens.length })),
    requestsTo: path => requests.filter(r => r.path === path),
    async waitFor(pred, timeoutMs = 5000, what = 'condition') {
      const end = Date.now() + timeoutMs;
      while (!pred()) {
        if (Date.now() > end) throw new Error(`fake-ollama: timed out waiting for ${what}; counters=${JSON.stringify(counters)}`);
        await sleep(5);
      }
    },
    close: () =>
      new Promise<void>(resolve => {
        sched.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  const internals: FakeInternals = { fake, findModel, runChat, writer, clientGone };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', c => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: any = raw;
      try {
        body = raw ? JSON.parse(raw) : {};
      } catch {
        // keep the raw text; handlers answer 400 for it
      }
      const path = (req.url ?? '/').split('?')[0];
      requests.push({ method: req.method ?? 'GET', path, headers: req.headers, body, at: Date.now() });
      route(req.method ?? 'GET', path, body, req, res).catch(e => {
        if (res.headersSent) {
          res.destroy();
          return;
        }
        if (path.startsWith('/v1/')) {
          const status = e instanceof HttpError ? e.status : 500;
          sendJson(res, status, { error: { message: String(e.message), type: status >= 500 ? 'api_error' : 'invalid_request_error', param: null, code: null } });
        } else sendJson(res, e instanceof HttpError ? e.status : 500, { error: String(e.message) });
      });
    });
  });

  async function route(method: string, path: string, body: any, req: http.IncomingMessage, res: http.ServerResponse) {
    if (typeof body === 'string' && body !== '') throw new HttpError(400, 'invalid character in request body');
    if (path.startsWith('/v1/')) return handleOpenAi(internals, method, path, body, req, res);
    const key = `${method} ${path}`;
    switch (key) {
      case 'GET /':
      case 'HEAD /':
        res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' });
        return void res.end('Ollama is running');
      case 'GET /api/version':
        return sendJson(res, 200, { version: options.version });
      case 'GET /api/tags':
        return sendJson(res, 200, { models: options.models.map(tagsEntry) });
      case 'GET /api/ps':
        return sendJson(res, 200, { models: sched.list().map(psEntry) });
      case 'POST /api/show': {
        const name = body.model ?? body.name;
        if (!name) throw new HttpError(400, 'model is required');
        const m = findModel(name);
        if (!m) throw new HttpError(404, `model '${name}' not found`);
        return sendJson(res, 200, showBody(m));
      }
      case 'POST /api/chat':
        return nativeChat(body, req, res);
      case 'POST /api/pull':
        return pull(internals, body, res);
      case 'POST /api/embed':
        return embed(internals, body, res);
      default:
        res.writeHead(404, { 'Content-Type': 'text/plain' });
        return void res.end('404 page not found');
    }
  }

  async function nativeChat(body: any, req: http.IncomingMessage, res: http.ServerResponse) {
    const model: string | undefined = body.model || body.name;
    if (!model) throw new HttpError(400, 'model is required');
    const spec = findModel(model);
    if (!spec) throw new HttpError(404, `model '${model}' not found`);
    const tools = Array.isArray(body.tools) && body.tools.length > 0;
    if (tools && !spec.capabilities.includes('tools')) throw new HttpError(400, `${registryName(model)} does not support tools`);
    const think = body.think === true || typeof body.think === 'string';
    if (think && !spec.capabilities.includes('thinking')) throw new HttpError(400, `"${model}" does not support thinking`);
    let keepAliveMs: number | undefined;
    try {
      // absent: the model keeps the session duration it has (the server default when it is loaded)
      keepAliveMs = body.keep_alive === undefined || body.keep_alive === null ? undefined : parseKeepAlive(body.keep_alive);
    } catch (e) {
      throw new HttpError(400, (e as Error).message);
    }
    const all: Array<{ role: string; content: string }> = Array.isArray(body.messages) ? body.messages : [];
    // the target models' templates render only system/user/assistant: tool results vanish silently
    const messages = spec.capabilities.includes('tools') ? all : all.filter(m => m.role !== 'tool');
    const requestedCtx = Number(body.options?.num_ctx) || options.defaultNumCtx;
    const job: ChatJob = {
      api: 'native', model, spec, messages, think, keepAliveMs, format: body.format,
      numCtx: Math.min(requestedCtx, spec.contextLength),
      numPredict: body.options?.num_predict,
      extraPromptText: tools ? JSON.stringify(body.tools) : '',
      view: { api: 'native', model, body, messages: all, headers: req.headers },
    };
    const stream = body.stream !== false; // the server streams unless told not to
    const signal = clientGone(res);
    await runChat(job, res, signal, reply => (stream ? nativeStreamSink(internals, res, model, reply, signal) : nativeJsonSink(res, model)));
  }

  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(opts.port ?? 0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  fake.port = port;
  fake.url = `http://127.0.0.1:${port}`;
  return fake;
}
