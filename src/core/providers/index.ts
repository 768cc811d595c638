/** Builds the provider for a configured server. The only place that knows the concrete classes. */
import type { Logger } from '../ports';
import { OllamaProvider } from './ollama';
import { OpenAiProvider } from './openai';
import type { LlmProvider, WatchdogOptions } from './types';

export * from './types';
export * from './errors';
export { OllamaProvider, OLLAMA_DEFAULTS } from './ollama';
export type { OllamaProviderOptions } from './ollama';
export { OpenAiProvider, OPENAI_DEFAULTS, SseParser, normalizeOpenAiBase } from './openai';
export type { OpenAiProviderOptions } from './openai';
export { nodeFetch, estimateTokens, looksTruncated, Watchdog } from './http';
export type { FetchLike } from './http';

export interface ProviderConfig extends WatchdogOptions {
  kind: 'ollama' | 'openai';
  baseUrl: string;
  /** Ollama: num_ctx for models whose agent sets none. */
  defaultNumCtx?: number;
  /** Ollama: configured per-model windows. */
  numCtxByModel?: Record<string, number>;
}

export interface ProviderDeps {
  logger?: Logger;
  /** OpenAI-compatible servers: the key, read on every request (SecretStorage on the VS Code side). */
  getApiKey?: () => Promise<string | undefined>;
}

export function createProvider(config: ProviderConfig, deps: ProviderDeps = {}): LlmProvider {
  switch (config.kind) {
    case 'ollama':
      return new OllamaProvider({ ...config, logger: deps.logger });
    case 'openai':
      return new OpenAiProvider({ ...config, logger: deps.logger, getApiKey: deps.getApiKey });
    default: {
      const never: never = config.kind;
      throw new Error(`Unknown provider kind ${String(never)}`);
    }
  }
}
