/**
 * The one interface the agent loop talks to, whatever serves the model (Ollama's native API or an
 * OpenAI-compatible server). Every call takes an AbortSignal: a cancelled run must stop the server's work.
 */

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

export interface ChatMessage {
  /**
   * 'tool' is only for models with native tool calling: the target models' templates silently drop
   * tool-role messages, so the text protocol sends tool results as 'user' messages.
   */
  role: ChatRole;
  content: string;
  /** On assistant messages that made native tool calls (replayed to the model). */
  toolCalls?: ToolCall[];
  /** On 'tool' messages: which tool produced the result. */
  toolName?: string;
  toolCallId?: string;
}

/** A function tool described by a JSON schema (native tool calling). */
export interface ToolSpec {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ChatOptions {
  /** Context window. Ollama: sent as options.num_ctx on every request and pinned per model (a change reloads the model). */
  numCtx?: number;
  temperature?: number;
  numPredict?: number;
  stop?: string[];
  seed?: number;
}

export interface ChatRequest {
  model: string;
  messages: ChatMessage[];
  tools?: ToolSpec[];
  /** A JSON schema the reply must fit (or 'json' for any JSON). */
  format?: Record<string, unknown> | 'json';
  options: ChatOptions;
  /** Ollama keep_alive: seconds, a duration like "30m", -1 (forever) or 0 (unload after). */
  keepAlive?: number | string;
  /** Ask a thinking-capable model to think; its thoughts arrive as `thinking` deltas. */
  think?: boolean;
}

export interface ToolCall {
  id?: string;
  name: string;
  arguments: Record<string, unknown>;
}

export interface ChatDelta {
  content?: string;
  thinking?: string;
}

export interface ChatResult {
  content: string;
  thinking?: string;
  toolCalls: ToolCall[];
  /** 'stop' | 'length' | 'tool_calls' | 'load' | 'unload' as the server said; 'unknown' when it did not. */
  doneReason: string;
  promptTokens: number;
  /** Of the prompt tokens, those the server read from its prompt cache, when it says (newer Ollama, some /v1 servers). */
  cachedTokens?: number;
  completionTokens: number;
  /** Time the model spent (prompt eval + generation), from the server's durations when it reports them. */
  modelMs: number;
  /** Of modelMs: prompt evaluation (Ollama `prompt_eval_duration`, llama.cpp `prompt_ms`), when reported apart. */
  promptMs?: number;
  /** Of modelMs: generation (Ollama `eval_duration`, llama.cpp `predicted_ms`), when reported apart. */
  evalMs?: number;
  /** Wall time of the call as the client saw it. */
  totalMs: number;
  /** Time the server spent loading the model (0 when warm or unknown). */
  loadMs: number;
  /** The server reported far fewer prompt tokens than were sent: it dropped part of the prompt silently. */
  truncated?: boolean;
  /** The client-side estimate the truncation check compared against. */
  estimatedPromptTokens?: number;
  /** The num_ctx actually sent (Ollama), so the caller knows the real window. */
  numCtx?: number;
}

export interface ModelSummary {
  name: string;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  sizeBytes?: number;
}

export interface ModelInfo {
  /** Ollama's capability names: completion, tools, insert, vision, thinking, embedding. */
  capabilities: string[];
  contextLength?: number;
  family?: string;
  /** False when the server cannot tell (OpenAI-compatible servers): capabilities are then a safe guess. */
  capabilitiesKnown: boolean;
}

export type Health = { ok: true; version?: string } | { ok: false; reason: string };

export interface LlmProvider {
  readonly kind: 'ollama' | 'openai' | 'vscode';
  readonly baseUrl: string;
  /** Streams internally; `onDelta` gets content/thinking pieces as they arrive. Rejects with ProviderError. */
  chat(req: ChatRequest, signal: AbortSignal, onDelta?: (d: ChatDelta) => void): Promise<ChatResult>;
  listModels(signal: AbortSignal): Promise<ModelSummary[]>;
  probe(model: string, signal: AbortSignal): Promise<ModelInfo>;
  /** Never throws (except on cancel): a down server is `{ok:false, reason}` with what to do. */
  health(signal: AbortSignal): Promise<Health>;
}

export interface PullProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
  /** 0..100 when total is known. */
  percent?: number;
}

/** Timeouts every provider enforces itself (no library or undici timeout is relied on). */
export interface WatchdogOptions {
  /** From sending the request to the first streamed piece: covers queueing, model load and prompt eval. */
  firstTokenTimeoutMs?: number;
  /** Longest silence between two streamed pieces once streaming started. */
  idleTimeoutMs?: number;
  /** For short calls (list, show, version). */
  requestTimeoutMs?: number;
}
