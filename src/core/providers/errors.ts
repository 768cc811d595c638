/**
 * One error type for everything a model server can do wrong, with a `kind` the scheduler and the loop
 * branch on (retry? switch tool protocol? tell the user to pull?) and a message that says what to do.
 */
import { AppError } from '../errors';

export type ProviderErrorKind =
  | 'model_not_found'
  | 'tools_unsupported'
  | 'thinking_unsupported'
  | 'context_too_long'
  | 'busy'
  | 'connection'
  | 'connection_lost'
  | 'timeout'
  | 'mid_stream'
  | 'incomplete_stream'
  | 'invalid_response'
  | 'bad_request'
  | 'unauthorized'
  | 'server'
  | 'cancelled';

export interface ProviderErrorContext {
  /** 'ollama' words the advice for Ollama (`ollama pull`, `ollama serve`). */
  provider?: 'ollama' | 'openai';
  baseUrl?: string;
  model?: string;
  /** The caller's signal: when it is aborted, any failure is a cancellation. */
  signal?: AbortSignal;
  /** Set by the watchdog when it fired: the abort that followed is a timeout, not a cancel. */
  timeout?: { what: 'first token' | 'next token' | 'reply'; ms: number };
  /** Whether response headers had arrived: a reset after them is a broken stream. */
  streaming?: boolean;
  numCtx?: number;
}

export class ProviderError extends AppError {
  readonly kind: ProviderErrorKind;
  readonly retryable: boolean;
  readonly status?: number;
  /** The server's own words, for the log. */
  readonly serverMessage?: string;

  constructor(
    kind: ProviderErrorKind,
    message: string,
    opts: { status?: number; serverMessage?: string; retryable?: boolean; cause?: unknown; detail?: Record<string, unknown> } = {},
  ) {
    super('provider', message, { kind, status: opts.status, serverMessage: opts.serverMessage, ...opts.detail }, { cause: opts.cause });
    this.kind = kind;
    this.status = opts.status;
    this.serverMessage = opts.serverMessage;
    this.retryable = opts.retryable ?? RETRYABLE.has(kind);
  }

  /** Recognises a ProviderError across module copies (no instanceof). */
  static isProviderError(e: unknown, kind?: ProviderErrorKind): e is ProviderError {
    return AppError.is(e, 'provider') && typeof (e as { kind?: unknown }).kind === 'string' && (kind === undefined || (e as ProviderError).kind === kind);
  }
}

/** Transient by nature: trying again later can succeed without anyone changing anything. */
const RETRYABLE = new Set<ProviderErrorKind>(['busy', 'timeout', 'mid_stream', 'incomplete_stream', 'connection_lost']);

/**
 * The settings that hold the model-server timeouts (read by the host into `CoreSettings.providers`), named
 * in the messages so that the user can find them.
 */
export const TIMEOUT_SETTINGS = {
  firstToken: 'ai2ai.models.firstTokenTimeoutSeconds',
  idle: 'ai2ai.models.idleTimeoutSeconds',
} as const;

/** Network error codes that mean "nobody is listening / no such host": retrying blindly will not help. */
const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);
/** Network error codes of a connection that broke: a retry usually works. */
const RESET = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'ERR_STREAM_PREMATURE_CLOSE']);

function errCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let i = 0; i < 4 && cur && typeof cur === 'object'; i++) {
    const c = (cur as { code?: unknown }).code;
    if (typeof c === 'string') return c;
    cur = (cur as { cause?: unknown }).cause;
  }
  return undefined;
}

function statusOf(e: unknown): number | undefined {
  if (!e || typeof e !== 'object') return undefined;
  const s = (e as { status_code?: unknown; status?: unknown }).status_code ?? (e as { status?: unknown }).status;
  return typeof s === 'number' ? s : undefined;
}

function messageOf(e: unknown): string {
  if (e instanceof Error) return e.message;
  if (e && typeof e === 'object' && typeof (e as { message?: unknown }).message === 'string') return (e as { message: string }).message;
  return String(e);
}

/** An HTTP error answer, already read: status and the server's message text. */
export class HttpStatusError extends Error {
  override readonly name = 'HttpStatusError';
  constructor(readonly status: number, readonly serverMessage: string) {
    super(serverMessage);
  }
}

/** A failure reported inside a 200 stream ({"error"} line or SSE error event). */
export class InBandError extends Error {
  override readonly name = 'InBandError';
}

/** The stream ended cleanly but before the server said it was done. */
export class IncompleteStreamError extends Error {
  override readonly name = 'IncompleteStreamError';
}

/**
 * Turns whatever a provider call threw (ollama-js ResponseError, fetch/network errors, AbortError, our own
 * markers) into a ProviderError. The caller's signal and the watchdog state decide cancel vs timeout,
 * because an abort looks the same from below whoever caused it.
 */
export function classifyProviderError(e: unknown, ctx: ProviderErrorContext = {}): ProviderError {
  if (ProviderError.isProviderError(e)) return e;
  const where = ctx.baseUrl ?? 'the configured URL';
  const model = ctx.model ?? 'the model';
  const isOllama = ctx.provider !== 'openai';
  const server = isOllama ? 'Ollama' : 'the server';
  if (ctx.signal?.aborted) return new ProviderError('cancelled', 'Cancelled.', { cause: e });
  if (ctx.timeout) {
    const secs = Math.round(ctx.timeout.ms / 1000);
    if (ctx.timeout.what === 'reply') {
      return new ProviderError('timeout', `${isOllama ? 'Ollama' : 'The server'} at ${where} did not answer within ${secs} s. Check that it is running and not overloaded.`, { cause: e });
    }
    const setting = ctx.timeout.what === 'first token' ? TIMEOUT_SETTINGS.firstToken : TIMEOUT_SETTINGS.idle;
    const why =
      ctx.timeout.what === 'first token'
        ? 'The model may still be loading, queued behind other requests, or too slow for this machine'
        : 'The model stopped sending in the middle of its reply';
    return new ProviderError('timeout', `No ${ctx.timeout.what} from ${model} at ${where} within ${secs} s. ${why}: use a smaller model, or raise the setting ${setting}.`, {
      cause: e,
    });
  }
  const raw = messageOf(e);
  const name = e && typeof e === 'object' ? (e as { name?: unknown }).name : undefined;
  const status = statusOf(e);
  const lower = raw.toLowerCase();

  if (name === 'IncompleteStreamError' || /did not receive done or success response/i.test(raw)) {
    return new ProviderError('incomplete_stream', `The reply from ${model} ended before it was complete (the server closed the stream early).`, {
      serverMessage: raw, cause: e,
    });
  }
  if (name === 'InvalidResponseError') {
    return new ProviderError('invalid_response', raw, { cause: e });
  }
  if (name === 'AbortError') {
    // aborted from below without our signal or watchdog: the connection was torn down under us
    return connectionLost(server, where, ctx.streaming, raw, e, undefined);
  }

  // Content checks first: the same words mean the same thing whatever the status (Ollama /v1 vs native differ).
  if (/does not support tools|tools? (are|is) not supported|tool calling is not supported|--enable-auto-tool-choice|--jinja/i.test(raw)) {
    return new ProviderError('tools_unsupported', `${model} does not support native tool calling on ${server}. Use the text tool protocol for this agent (tool protocol "auto" or "text").`, {
      status, serverMessage: raw, cause: e,
    });
  }
  if (/does not support thinking/i.test(raw)) {
    return new ProviderError('thinking_unsupported', `${model} does not support thinking. Turn thinking off for this agent.`, { status, serverMessage: raw, cause: e });
  }
  if (/prompt is longer than the context length|exceed_context_size|exceeds the available context|maximum context length|context length exceeded|context_length_exceeded|too many tokens/i.test(raw)) {
    const ctxNote = ctx.numCtx ? ` (num_ctx ${ctx.numCtx})` : '';
    return new ProviderError('context_too_long', `The prompt is longer than ${model}'s context window${ctxNote}. Shorten the task or its attachments, or raise the agent's context size (num_ctx).`, {
      status, serverMessage: raw, cause: e,
    });
  }
  if (status === 503 || status === 429 || /server busy|maximum pending requests/i.test(lower)) {
    return new ProviderError('busy', `${server} at ${where} is busy (too many requests queued). If it keeps happening, run fewer agents at once.`, {
      status, serverMessage: raw, cause: e,
    });
  }
  if (status === 401 || status === 403) {
    return new ProviderError('unauthorized', `The server at ${where} refused the request (${status}: ${raw}). Check the API key set for this provider.`, {
      status, serverMessage: raw, cause: e,
    });
  }
  if (status === 404 && /not found|does not exist|no such model|model_not_found/i.test(raw) && !/page not found/i.test(raw)) {
    const how = isOllama ? `Pull it with AI2AI: Pull Model or \`ollama pull ${model}\`.` : 'Check the model name against the models the server lists, or load the model in the server.';
    return new ProviderError('model_not_found', `Model ${model} is not available on ${server} at ${where}. ${how}`, { status, serverMessage: raw, cause: e });
  }
  if (status === 404) {
    return new ProviderError('bad_request', `${where} answered 404 (${raw}): this URL does not look like ${isOllama ? 'an Ollama server' : 'an OpenAI-compatible API (it usually ends in /v1)'}. Check the provider URL.`, {
      status, serverMessage: raw, cause: e,
    });
  }
  if (status !== undefined && status >= 400 && status < 500) {
    return new ProviderError('bad_request', `${server} rejected the request for ${model} (${status}): ${raw}`, { status, serverMessage: raw, cause: e });
  }
  if (status !== undefined && status >= 500) {
    return new ProviderError('server', `${server} at ${where} failed (${status}): ${raw}. Check the server's log.`, { status, serverMessage: raw, cause: e });
  }

  const code = errCode(e);
  if (code && UNREACHABLE.has(code)) {
    const dns = code === 'ENOTFOUND' || code === 'EAI_AGAIN';
    const advice = dns
      ? `Cannot resolve the host of ${where}. Check the provider URL.`
      : isOllama
        ? `Cannot connect to Ollama. Is Ollama running at ${where}? Start it with \`ollama serve\`, or fix the provider URL.`
        : `Cannot connect to the server. Is it running at ${where}? Start it, or fix the provider URL.`;
    return new ProviderError('connection', advice, { serverMessage: raw, cause: e, retryable: false, detail: { code } });
  }
  // by code only: an in-band error's text may say anything ("runner terminated")
  if ((code && RESET.has(code)) || (!code && name === 'TypeError' && /^(terminated|fetch failed)$/.test(raw))) {
    return connectionLost(server, where, ctx.streaming, raw, e, code);
  }
  if (name === 'InBandError' || (ctx.streaming && status === undefined)) {
    // Ollama reports a failure after the 200 as an {"error"} line; ollama-js turns it into a plain Error
    return new ProviderError('mid_stream', `${server} failed while ${model} was replying: ${raw}.`, { serverMessage: raw, cause: e });
  }
  return new ProviderError('server', `Request to ${server} at ${where} failed: ${raw}`, { serverMessage: raw, cause: e, retryable: false });
}

/**
 * A connection that broke after it was made (reset, closed, torn down under us), before the reply or in
 * the middle of it: one kind however it shows, retryable, and not a sign that the server is gone (a server
 * that is gone refuses the retry, which is 'connection').
 */
function connectionLost(server: string, where: string, streaming: boolean | undefined, raw: string, cause: unknown, code: string | undefined): ProviderError {
  return new ProviderError('connection_lost', `The connection to ${server} at ${where} was lost${streaming ? ' in the middle of the reply' : ' before the reply'}.`, {
    serverMessage: raw, cause, retryable: true, detail: code ? { code } : undefined,
  });
}
