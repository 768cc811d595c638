/**
 * The transport shared by the providers.
 *
 * Why not the global fetch: in Node it is undici, whose `headersTimeout` (300 s) kills requests that
 * Ollama legitimately keeps without headers (queued behind a busy slot, loading a model, evaluating a long
 * prompt on CPU: Ollama sends headers only with the first token). Changing that needs an undici
 * Dispatcher, i.e. a dependency on undici itself. `nodeFetch` is a small fetch over node:http(s) instead:
 * no headers or body timeout at all (our own watchdogs decide), cancellation through the AbortSignal at
 * every stage, and a standard `Response` so the `ollama` package can use it. Going through node:http also
 * keeps VS Code's proxy support, which patches the http/https modules.
 */
import * as http from 'node:http';
import * as https from 'node:https';
import type { ChatDelta } from './types';

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

function abortError(signal?: AbortSignal): Error {
  const r: unknown = signal?.reason;
  if (r instanceof Error) return r;
  const e = new Error('This operation was aborted');
  e.name = 'AbortError';
  return e;
}

function headersToRecord(h: RequestInit['headers']): Record<string, string> {
  if (!h) return {};
  if (Array.isArray(h)) return Object.fromEntries(h);
  // a Headers object without touching the global `Headers` (in Node each access is a getter that loads undici)
  if (typeof (h as Headers).forEach === 'function') {
    const o: Record<string, string> = {};
    (h as Headers).forEach((v, k) => (o[k] = v));
    return o;
  }
  return { ...(h as Record<string, string>) };
}

/**
 * Keep-alive: a run makes one request per turn to the same server, and a new TCP connection each time was
 * a third of a turn's CPU. Aborted requests destroy their socket, so a cancelled stream never lingers.
 */
const AGENTS = { http: new http.Agent({ keepAlive: true, maxSockets: 64 }), https: new https.Agent({ keepAlive: true, maxSockets: 64 }) };

/** What `request` needs: fetch's init, but a body is text or bytes and several signals may end the request. */
export interface RequestOptions {
  method?: string;
  headers?: RequestInit['headers'];
  body?: string | Buffer;
  /** Any of these aborting cancels the request at whatever stage it is (cheaper than AbortSignal.any per turn). */
  signals?: ReadonlyArray<AbortSignal | undefined>;
  /** Firing cancels the request at whatever stage it is, like an aborted signal. */
  watchdog?: Watchdog;
}

/**
 * One HTTP request over node:http(s): resolves with the response as soon as its headers are in, rejects on
 * a network error or an abort. An abort after that destroys the response, whose reader then fails.
 */
export function request(input: string | URL, opts: RequestOptions = {}): Promise<http.IncomingMessage> {
  return new Promise<http.IncomingMessage>((resolve, reject) => {
    const signals = (opts.signals ?? []).filter((s): s is AbortSignal => s !== undefined);
    const aborted = signals.find(s => s.aborted);
    if (aborted) return reject(abortError(aborted));
    const url = typeof input === 'string' ? new URL(input) : input;
    const https_ = url.protocol === 'https:';
    const req = (https_ ? https : http).request(url, { method: opts.method ?? 'GET', headers: headersToRecord(opts.headers), agent: https_ ? AGENTS.https : AGENTS.http }, resolve);
    const onAbort = function (this: AbortSignal) {
      req.destroy(abortError(this));
    };
    for (const s of signals) s.addEventListener('abort', onAbort, { once: true });
    const unwatch = opts.watchdog?.watch(() => req.destroy(abortError()));
    // 'close' on the request fires once the whole response was received or the socket died:
    // after that an abort has nothing left to cancel.
    req.on('close', () => {
      for (const s of signals) s.removeEventListener('abort', onAbort);
      unwatch?.();
    });
    req.on('error', reject);
    req.end(opts.body);
  });
}

export const nodeFetch: FetchLike = async (input, init = {}) => {
  const body = init.body === undefined || init.body === null ? undefined : typeof init.body === 'string' ? init.body : Buffer.from(init.body as ArrayBuffer);
  const res = await request(String(input), { method: init.method, headers: init.headers, body, signals: [init.signal ?? undefined] });
  const status = res.statusCode ?? 500;
  const headers = new Headers();
  for (const [k, v] of Object.entries(res.headers)) {
    if (Array.isArray(v)) v.forEach(x => headers.append(k, x));
    else if (v !== undefined) headers.set(k, v);
  }
  const noBody = status === 204 || status === 205 || status === 304 || init.method === 'HEAD';
  if (noBody) res.resume();
  return new Response(noBody ? null : toWebStream(res), { status, statusText: res.statusMessage, headers });
};

/** The body of `res` as text (an error answer, read whole). */
export function readText(res: http.IncomingMessage): Promise<string> {
  return new Promise<string>((resolve, reject) => {
    const parts: Buffer[] = [];
    res.on('data', (b: Buffer) => parts.push(b));
    res.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    res.on('error', reject);
    res.on('aborted', () => reject(connectionReset()));
  });
}

function connectionReset(): Error {
  return Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
}

/**
 * Reads a streamed body line by line (NDJSON, SSE), straight off node:http: a model streams one token per
 * chunk, and each layer between the socket and the parser (a web stream, a TextDecoder, an async
 * generator per line) cost more CPU per token than the rest of an agent turn. Lines split on the byte
 * `\n`, which never occurs inside a multi-byte UTF-8 character, so a character cut between two chunks is
 * decoded whole. `onLine` gets each line without its line end; `onData` runs for every chunk (a watchdog's
 * heartbeat). An exception from either ends the request and rejects; so does a connection that breaks
 * before the end of the body. `stop()` from inside `onLine` ends reading early and resolves (the rest of
 * the body is not wanted, e.g. after Ollama's `done` line).
 */
export function readLines(res: http.IncomingMessage, onLine: (line: string, stop: () => void) => void, onData?: () => void): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    // the start of a line not ended yet, in pieces (joined once, when its end comes)
    let rest: Buffer[] = [];
    let restBytes = 0;
    let settled = false;
    const settle = (e?: unknown) => {
      if (settled) return;
      settled = true;
      res.removeListener('data', onChunk);
      if (e === undefined) {
        resolve();
        if (!res.complete) {
          // Stopped before the end of the body: let the rest drain so the connection can be reused, but a
          // server that never ends the body must not keep the socket (and the caller's abort listener).
          res.resume();
          const drain = setTimeout(() => res.destroy(), DRAIN_MS);
          drain.unref?.();
          res.once('end', () => clearTimeout(drain));
        }
      } else {
        res.destroy();
        reject(e);
      }
    };
    const stop = () => settle();
    const line = (text: string) => {
      const l = text.endsWith('\r') ? text.slice(0, -1) : text;
      onLine(l, stop);
    };
    const keep = (piece: Buffer) => {
      restBytes += piece.length;
      if (restBytes > MAX_LINE_BYTES) throw new InvalidStreamError(`The server sent a line longer than ${MAX_LINE_BYTES / (1 << 20)} MB without a line end.`);
      rest.push(piece);
    };
    const onChunk = (chunk: Buffer) => {
      try {
        onData?.();
        let start = 0;
        let nl = chunk.indexOf(10);
        while (nl >= 0 && !settled) {
          if (rest.length) {
            keep(chunk.subarray(0, nl));
            const whole = Buffer.concat(rest, restBytes);
            rest = [];
            restBytes = 0;
            line(whole.toString('utf8'));
          } else line(chunk.toString('utf8', start, nl));
          start = nl + 1;
          nl = chunk.indexOf(10, start);
        }
        if (!settled && start < chunk.length) keep(chunk.subarray(start));
      } catch (e) {
        settle(e);
      }
    };
    res.on('data', onChunk);
    res.on('end', () => {
      try {
        if (!settled && restBytes) line(Buffer.concat(rest, restBytes).toString('utf8'));
        settle();
      } catch (e) {
        settle(e);
      }
    });
    res.on('error', e => settle(e));
    // The connection broke before the whole body came: the same as a reset, whichever way it shows.
    res.on('aborted', () => settle(connectionReset()));
    res.on('close', () => {
      if (!res.complete) settle(connectionReset());
    });
  });
}

/** A line of a stream longer than this is refused: no reply needs it, and it would be held in memory whole. */
export const MAX_LINE_BYTES = 16 << 20;
/** After `stop()`, how long the rest of a body may take to drain before its connection is closed. */
const DRAIN_MS = 2000;

/** A stream that cannot be read as lines (a line with no end in sight). */
export class InvalidStreamError extends Error {
  override readonly name = 'InvalidResponseError';
}

/**
 * The response body as a web stream (for the `ollama` package's short calls). Hand-rolled rather than
 * Readable.toWeb, whose per-chunk machinery is far heavier. No backpressure is needed: the answers are
 * small and read as fast as they come.
 */
function toWebStream(res: http.IncomingMessage): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({
    start(controller) {
      res.on('data', (chunk: Buffer) => controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)));
      res.on('end', () => controller.close());
      res.on('error', e => controller.error(e));
      res.on('aborted', () => controller.error(connectionReset()));
    },
    cancel() {
      res.destroy();
    },
  });
}

/**
 * Two windows for one request: until the first piece arrives `firstMs` applies (queue + load + prompt
 * eval), afterwards `idleMs` since the last piece. When one runs out, `fired` says which, so the abort that
 * follows is reported as a timeout rather than a cancel. It stops the request it `watch`es (one at a time)
 * and aborts its `signal`, for callers that read it.
 */
export class Watchdog {
  fired?: { what: 'first token' | 'next token' | 'reply'; ms: number };
  private timer?: ReturnType<typeof setTimeout>;
  private started = false;
  private controller?: AbortController;
  /** What to stop when it fires: `request` sets it for its request (cheaper than a signal per model call). */
  private onFire?: () => void;

  constructor(firstMs: number, private readonly idleMs: number, firstWhat: 'first token' | 'reply' = 'first token') {
    this.arm(firstMs, firstWhat);
  }

  /** Aborted when it fires; made on first use (a request given the watchdog itself needs none). */
  get signal(): AbortSignal {
    this.controller ??= new AbortController();
    if (this.fired) this.controller.abort();
    return this.controller.signal;
  }

  /** `stop` runs when it fires (at once when it already has); returns a function that forgets it. One request at a time. */
  watch(stop: () => void): () => void {
    if (this.fired) {
      stop();
      return () => {};
    }
    this.onFire = stop;
    return () => {
      if (this.onFire === stop) this.onFire = undefined;
    };
  }

  /**
   * Call on every piece received. This runs per token, so it only notes the time: the idle timer, when it
   * fires, re-arms itself for whatever is left of the window since the last piece.
   */
  touch(): void {
    this.lastAt = performance.now();
    if (this.started) return;
    this.started = true;
    this.arm(this.idleMs, 'next token');
  }

  get streaming(): boolean {
    return this.started;
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private lastAt = 0;

  private arm(ms: number, what: 'first token' | 'next token' | 'reply', window = ms) {
    this.stop();
    if (!Number.isFinite(ms) || ms <= 0) return;
    this.timer = setTimeout(() => {
      const left = what === 'next token' ? this.lastAt + window - performance.now() : 0;
      // a piece came meanwhile: wait out the rest of the window after it (1 ms of slack for the timer's rounding)
      if (left > 1) return this.arm(left, what, window);
      this.fired = { what, ms: window };
      this.onFire?.();
      this.controller?.abort();
    }, ms);
    // a pending watchdog must not keep the process (or a test run) alive
    this.timer.unref?.();
  }
}

/**
 * A rough token count of what is sent: ASCII at ~4 characters per token (English and code in BPE
 * tokenizers land between 3 and 5), other characters at ~1 token each (CJK, emoji, accents split into
 * several bytes), plus ~4 tokens of chat-template framing per message.
 */
export function estimateTokens(messages: ReadonlyArray<{ content: string }>, extra = ''): number {
  let n = 0;
  for (const m of messages) n += messageTokens(m) + 4;
  return n + countTokens(extra);
}

/**
 * Per message object, the content counted last and its count: a conversation is estimated several times a
 * turn (fitting the window, the truncation check, the prompt-cache estimate) and grows by a message or two,
 * so recounting only what changed keeps a turn's cost flat instead of growing with the conversation. A
 * message whose content was replaced (condensed) is recounted, since the content is compared too.
 */
const counted = new WeakMap<object, { content: string; tokens: number }>();

function messageTokens(m: { content: string }): number {
  const hit = counted.get(m);
  if (hit && hit.content === m.content) return hit.tokens;
  const tokens = countTokens(m.content);
  counted.set(m, { content: m.content, tokens });
  return tokens;
}

function countTokens(s: string): number {
  // charCodeAt over code units, not for..of over code points: the iterator was most of a turn's CPU. A
  // character outside the BMP counts as 2 here, as it usually does in the tokenizer too.
  let other = 0;
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) >= 128) other++;
  return Math.ceil((s.length - other) / 4) + other;
}

/** What a response said about the prompt it read, next to what was sent. */
export interface PromptCounts {
  /** The client's estimate of the whole prompt (`estimateTokens`). */
  estimate: number;
  /** `prompt_eval_count` as the server reported it. */
  promptEvalCount: number | undefined;
  /** `prompt_eval_cached_count`, sent only by servers that report their prompt cache (ollama PR #17943). */
  cachedCount: number | undefined;
  numCtx: number;
  /**
   * Estimate of the part of this prompt that no earlier prompt shares a prefix with (`PromptMemory`): what
   * a warm prompt cache leaves to evaluate. Equal to `estimate` when nothing could have been cached.
   */
  uncachedEstimate?: number;
}

/**
 * Ollama truncates an oversized prompt silently (it keeps the system message and the newest messages, then
 * cuts to about half the window) and answers 200; the only visible trace is a low prompt_eval_count.
 * A low count is read as a cut only when a cut can have happened:
 *  - the prompt can be longer than num_ctx: the estimate is above half the window (dense code can take up
 *    to twice as many tokens as chars/4 says); below that a low count is a tokenizer difference;
 *  - the count is under 70% of the estimate: chars/4 overestimates by up to ~25-30% (runs of indentation
 *    become single tokens), so a smaller gap is noise, while a cut to half the window removes far more;
 *  - the count is not what a warm prompt cache explains. A server that sends prompt_eval_cached_count counts
 *    the whole prompt in prompt_eval_count, so the count is compared as it is. Older servers count only the
 *    tokens they evaluated: a count near the part of the prompt no earlier prompt shared is a cache hit,
 *    not a cut (facts: ollama#2068/#3427).
 * A missing or zero count (old servers with a warm cache omitted it) is never a cut.
 */
export function looksTruncated(c: PromptCounts): boolean {
  const count = c.promptEvalCount;
  if (!count || count <= 0) return false;
  if (c.estimate <= c.numCtx * 0.5 || count >= c.estimate * 0.7) return false;
  if (c.cachedCount !== undefined) return true;
  const uncached = c.uncachedEstimate ?? c.estimate;
  const prefixMayBeCached = uncached < c.estimate;
  return !(prefixMayBeCached && count <= uncached * 1.3 + 32);
}

/**
 * The last prompts sent per model (their messages and the reply), to tell which part of a new prompt a
 * server's prompt cache may already hold: the longest prefix it shares with one of them. Bounded: the
 * newest few conversations (one per agent taking turns on a model, as the server's slots hold them).
 */
export class PromptMemory {
  private readonly recent: Array<{ model: string; messages: Array<{ role: string; content: string }> }> = [];

  constructor(private readonly size = 16) {}

  /**
   * Estimate of the tokens of `messages` after the longest prefix shared with a remembered prompt.
   * `whole` is the estimate of the whole prompt (`extra` included) when the caller has it already.
   */
  uncached(model: string, messages: ReadonlyArray<{ role: string; content: string }>, extra = '', whole?: number): number {
    let best = 0;
    for (const r of this.recent) {
      if (r.model !== model) continue;
      let i = 0;
      // the conversation's strings are the same objects turn after turn: === mostly compares pointers
      while (i < messages.length && i < r.messages.length && messages[i].role === r.messages[i].role && messages[i].content === r.messages[i].content) i++;
      best = Math.max(best, i);
    }
    if (best === 0) return whole ?? estimateTokens(messages, extra);
    return estimateTokens(messages.slice(best), '');
  }

  /** Remembers a prompt and the reply to it (a cache holds both: the next turn starts with them). */
  remember(model: string, messages: ReadonlyArray<{ role: string; content: string }>, reply: string): void {
    const kept = [...messages.map(m => ({ role: m.role, content: m.content })), { role: 'assistant', content: reply }];
    const same = this.recent.findIndex(r => r.model === model && r.messages[0]?.role === kept[0].role && r.messages[0]?.content === kept[0].content);
    if (same >= 0) this.recent.splice(same, 1);
    this.recent.push({ model, messages: kept });
    if (this.recent.length > this.size) this.recent.shift();
  }
}

/** Runs `fn` with a signal that ends at `timeoutMs` or when `signal` aborts; reports which. */
export async function withTimeout<T>(signal: AbortSignal, timeoutMs: number, fn: (s: AbortSignal, wd: Watchdog) => Promise<T>): Promise<T> {
  const wd = new Watchdog(timeoutMs, timeoutMs, 'reply');
  try {
    return await fn(AbortSignal.any([signal, wd.signal]), wd);
  } finally {
    wd.stop();
  }
}

/**
 * Hands a streamed piece to the caller. An exception from the callback is remembered before it is
 * rethrown, so the provider reports it as the caller's error, not as a broken stream from the server.
 */
export function deliverDelta(onDelta: ((d: ChatDelta) => void) | undefined, delta: ChatDelta, remember: (e: unknown) => void): void {
  if (!onDelta || !(delta.content || delta.thinking)) return;
  try {
    onDelta(delta);
  } catch (e) {
    remember(e);
    throw e;
  }
}
