/**
 * The fake's prompt (KV) cache, after Ollama's runners (runner/ollamarunner/cache.go and
 * runner/llamarunner/cache.go, which agree): each of a loaded model's slots keeps the tokens of its last
 * request, prompt and generated reply; a new request reuses the longest common prefix it shares with the
 * slot it is placed on and evaluates only the rest.
 */
import { pieces } from './script';

/** One of a loaded model's OLLAMA_NUM_PARALLEL slots. */
export interface CacheSlot {
  id: number;
  /** What this slot's KV cache holds: the last request's prompt tokens, then the tokens it generated. */
  tokens: string[];
  inUse: boolean;
  /** Epoch ms when the last request was placed here (0: never). */
  lastUsed: number;
}

export function emptySlots(n: number): CacheSlot[] {
  return Array.from({ length: Math.max(1, n) }, (_, id) => ({ id, tokens: [], inUse: false, lastUsed: 0 }));
}

// The fake's chat template. Every message is a 2-token header, its content in pieces of 4 code points (the
// same pieces the fake streams a reply in) and a 2-token footer: the "4 tokens of template per message" the
// fake has always counted. Tool definitions come first, as a whole (they are rendered into the system part),
// and the prompt ends with the assistant's header (the generation prompt), so the tokens of a reply continue
// the prompt exactly as the next request's copy of that assistant message will: a second turn finds the
// first turn's prompt and reply in the cache. Template tokens are longer than 4 characters, so no piece of
// content can be mistaken for one.
const START = '<|start|>';
const END = '<|end|>';
const NL = '<|nl|>';

/** The prompt as the fake's tokenizer sees it; the identity of each token is what the cache compares. */
export function promptTokens(messages: Array<{ role: string; content: string }>, extra = ''): string[] {
  const out: string[] = [];
  for (let i = 0; i < extra.length; i += 4) out.push(extra.slice(i, i + 4));
  for (const m of messages) out.push(START, `${m.role}\n`, ...pieces(m.content), END, NL);
  out.push(START, 'assistant\n');
  return out;
}

/** ceil(chars / 4) per message plus 4 tokens of template, the tools' JSON, and 2 for the generation prompt. */
export function countPromptTokens(messages: Array<{ role: string; content: string }>, extra = ''): number {
  return promptTokens(messages, extra).length;
}

export function commonPrefix(a: readonly string[], b: readonly string[]): number {
  const n = Math.min(a.length, b.length);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return i;
}

/**
 * The slot a request is placed on and how many of its prompt tokens that slot already holds.
 * Default (Ollama's findLongestCacheSlot): the free slot with the longest common prefix, the lowest id on a
 * tie. An empty slot therefore never beats one that shares even a token, so requests that never overlap in
 * time keep landing on the same slot and evict each other there, however many slots the model has.
 * multiUser (OLLAMA_MULTIUSER_CACHE, findBestCacheSlot): a free slot whose whole content is a prefix of the
 * prompt; otherwise the least recently used free slot, which first receives a copy of the longest prefix
 * any slot (even a busy one) shares with the prompt.
 */
export function pickSlot(slots: CacheSlot[], prompt: readonly string[], multiUser: boolean): { slot: CacheSlot; reused: number } {
  let longest = -1;
  let longestSlot: CacheSlot | undefined;
  if (!multiUser) {
    for (const s of slots) {
      if (s.inUse) continue;
      const n = commonPrefix(s.tokens, prompt);
      if (n > longest) {
        longest = n;
        longestSlot = s;
      }
    }
    if (!longestSlot) throw new Error('no available cache slots');
    return { slot: longestSlot, reused: longest };
  }
  let oldest: CacheSlot | undefined;
  for (const s of slots) {
    const n = commonPrefix(s.tokens, prompt);
    if (n > longest) {
      longest = n;
      longestSlot = s;
    }
    if (!s.inUse && (!oldest || s.lastUsed < oldest.lastUsed)) oldest = s;
  }
  if (longestSlot && longest === longestSlot.tokens.length && !longestSlot.inUse) return { slot: longestSlot, reused: longest };
  if (!oldest) throw new Error('no available cache slots');
  if (longestSlot && longest > 0 && longestSlot !== oldest) oldest.tokens = longestSlot.tokens.slice(0, longest);
  return { slot: oldest, reused: Math.max(0, longest) };
}

/**
 * What is left of an overflowing prompt after the fake's silent truncation to `keep` tokens: the first few
 * tokens (the start of the system part, like the runner's num_keep) and the newest rest. The cut moves with
 * every turn, so a truncated conversation gets little from the cache, as on the real server.
 */
export function truncateTokens(tokens: string[], keep: number): string[] {
  if (tokens.length <= keep) return tokens;
  const head = Math.min(4, keep);
  return [...tokens.slice(0, head), ...tokens.slice(tokens.length - (keep - head))];
}
