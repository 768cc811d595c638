/**
 * What a test scripts: one `ScriptedReply` per request (queued per model, or computed by a function),
 * plus the helpers that turn a reply into the token pieces the fake streams.
 */

export interface ScriptedToolCall {
  name: string;
  arguments: Record<string, unknown>;
  /** OpenAI mode only: send this exact arguments string instead of JSON.stringify(arguments) (e.g. broken JSON). */
  rawArguments?: string;
}

export interface ScriptedReply {
  /** The reply text, streamed in pieces of about 4 characters (never splitting a character). */
  content?: string;
  /** Streamed first as `message.thinking` when the request asked for `think` on a thinking-capable model. */
  thinking?: string;
  /** Sent as ONE whole chunk after a silent gap (the time the model takes to generate them). */
  toolCalls?: ScriptedToolCall[];
  /** With `format`: the JSON value to return as content. Without it the fake generates one that fits the schema. */
  json?: unknown;
  doneReason?: 'stop' | 'length';
  /** Error before any byte of the response: this status with {"error": error}. */
  status?: number;
  error?: string;
  /** After this many content pieces, write an {"error"} line (SSE: data: {"error":{...}}) and close. */
  errorAfter?: number;
  midStreamError?: string;
  /** Write every piece, then end the response cleanly but without the done chunk (SSE: without [DONE]). */
  endWithoutDone?: boolean;
  /** After this many pieces (0 = before headers), stop writing and wait until the client goes away. */
  stallAfter?: number;
  /** Extra real milliseconds before the first byte (after the slot and the load), unscaled. */
  delayMs?: number;
  /** Characters per streamed content piece (default 4, about a token); Infinity streams the content as one piece. */
  pieceChars?: number;
  /** Real milliseconds between pieces, unscaled; overrides the simulated tokens/s. */
  pieceDelayMs?: number;
  /** Overrides the prompt_eval_count (and /v1 usage.prompt_tokens) the fake reports; the cache and the timing still follow the real prompt. */
  promptEvalCount?: number;
  /** Overrides the server's fragmentation for this reply (bytes per socket write; 0 = whole lines). */
  fragmentBytes?: number;
}

export interface ChatRequestView {
  api: 'native' | 'openai';
  model: string;
  body: Record<string, unknown>;
  messages: Array<{ role: string; content: string }>;
  headers: Record<string, string | string[] | undefined>;
}

export type ReplyScript = ScriptedReply | ((req: ChatRequestView) => ScriptedReply | Promise<ScriptedReply>);

/** Pieces of up to 4 code points: about one token each, and a multi-byte character is never cut in two. */
export function pieces(text: string, size = 4): string[] {
  const cps = Array.from(text);
  if (size >= cps.length) return cps.length ? [text] : [];
  const out: string[] = [];
  for (let i = 0; i < cps.length; i += size) out.push(cps.slice(i, i + size).join(''));
  return out;
}

type Schema = {
  type?: string | string[];
  properties?: Record<string, Schema>;
  required?: string[];
  items?: Schema;
  enum?: unknown[];
  const?: unknown;
  anyOf?: Schema[];
  oneOf?: Schema[];
};

/** A value that fits a (simple) JSON schema: what a constrained model would produce. */
export function sampleFromSchema(schema: unknown, depth = 0): unknown {
  const s = (schema ?? {}) as Schema;
  if (depth > 8) return null;
  if (s.const !== undefined) return s.const;
  if (Array.isArray(s.enum) && s.enum.length > 0) return s.enum[0];
  const alt = s.anyOf ?? s.oneOf;
  if (alt && alt.length > 0) return sampleFromSchema(alt[0], depth + 1);
  const type = Array.isArray(s.type) ? s.type[0] : s.type;
  switch (type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(s.properties ?? {})) o[k] = sampleFromSchema(v, depth + 1);
      return o;
    }
    case 'array':
      return s.items ? [sampleFromSchema(s.items, depth + 1)] : [];
    case 'string':
      return 'text';
    case 'integer':
    case 'number':
      return 1;
    case 'boolean':
      return true;
    case 'null':
      return null;
    default:
      return s.properties ? sampleFromSchema({ ...s, type: 'object' }, depth) : {};
  }
}

export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error('aborted'));
    if (ms <= 0 || !Number.isFinite(ms)) {
      if (ms === Infinity) {
        // wait for the abort only
        signal?.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
        return;
      }
      return setImmediate(resolve);
    }
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(t);
      reject(new Error('aborted'));
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Final numbers of one generation. Durations are SIMULATED nanoseconds (unscaled), like a real machine's. */
export interface GenStats {
  doneReason: 'stop' | 'length';
  loadNs: number;
  promptEvalCount: number;
  /** Prompt tokens read from the slot's cache; undefined when the server does not report them (old servers). */
  promptCachedCount?: number;
  promptEvalNs: number;
  evalCount: number;
  evalNs: number;
  totalNs: number;
}

export interface ToolCallOut {
  id: string;
  name: string;
  arguments: Record<string, unknown>;
  rawArguments?: string;
}

/** Where a generation goes: one implementation per wire format (native NDJSON/JSON, OpenAI SSE/JSON). */
export interface Sink {
  piece(p: { content?: string; thinking?: string }): Promise<void>;
  toolCalls(calls: ToolCallOut[]): Promise<void>;
  /** The status was already sent (when streaming): write the error in-band and close. */
  midStreamError(message: string): Promise<void>;
  done(stats: GenStats): Promise<void>;
  endWithoutDone(): Promise<void>;
}
