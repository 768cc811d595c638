/**
 * The JSON protocol: for tiny models, Ollama's `format` is set to a JSON schema so the sampler can only
 * produce `{"tool": <one of the names>, "args": {...}}`. The server may ignore `format` (the MLX engine
 * does, ollama#17013), so the reply is always validated as if nothing constrained it, and prose, code
 * fences or `<think>` blocks around the object are tolerated.
 */
import type { DoneReason, ParseOutcome, ToolSpec } from './types';
import { knownToolsList, validateCall } from './validate';

/** The `format` value for Ollama's /api/chat. */
export function jsonProtocolSchema(tools: readonly ToolSpec[]): Record<string, unknown> {
  return {
    type: 'object',
    properties: {
      tool: { type: 'string', enum: tools.map(t => t.name) },
      args: { type: 'object' },
    },
    required: ['tool', 'args'],
  };
}

function example(tools: readonly ToolSpec[]): string {
  const spec = tools.find(t => t.name === 'read_file') ?? tools[0];
  return JSON.stringify({ tool: spec?.name ?? 'complete', args: spec?.example ?? {} });
}

/** The first balanced `{…}` at or after `from`, honouring strings; undefined when none closes. */
function balancedObject(text: string, from: number): { start: number; end: number } | undefined {
  const start = text.indexOf('{', from);
  if (start < 0) return undefined;
  let depth = 0;
  let inString = false;
  for (let i = start; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === '\\') i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === '{') depth++;
    else if (ch === '}' && --depth === 0) return { start, end: i + 1 };
  }
  return undefined;
}

export function parseJsonReply(reply: string, tools: readonly ToolSpec[], options: { doneReason?: DoneReason } = {}): ParseOutcome {
  const cut = options.doneReason === 'length';
  if (reply.trim() === '') {
    if (cut) return { ok: false, kind: 'cut_off', error: 'Your reply was cut off before the JSON object was complete. Reply again with a shorter action.' };
    return { ok: false, kind: 'empty', error: `Your reply was empty. Reply with one JSON object, e.g. ${example(tools)}` };
  }
  const text = reply.replace(/<think(?:ing)?>[\s\S]*?<\/think(?:ing)?>/gi, '');
  const span = balancedObject(text, 0);
  if (!span) {
    if (cut || text.includes('{')) {
      return cut
        ? { ok: false, kind: 'cut_off', error: 'Your reply was cut off before the JSON object was complete. Reply again with a shorter action.' }
        : { ok: false, kind: 'unclosed', error: `Your JSON object is not closed. Reply with one complete JSON object, e.g. ${example(tools)}` };
    }
    return { ok: false, kind: 'no_action', error: `Your reply contained no JSON action. Reply with one JSON object {"tool": ..., "args": {...}}, e.g. ${example(tools)}` };
  }
  let value: unknown;
  try {
    value = JSON.parse(text.slice(span.start, span.end));
  } catch (e) {
    return { ok: false, kind: 'malformed', error: `Your JSON is invalid (${(e as Error).message}). Reply with one valid JSON object, e.g. ${example(tools)}` };
  }
  const next = balancedObject(text, span.end);
  if (next && /"tool"\s*:/.test(text.slice(next.start, next.end))) {
    return { ok: false, kind: 'multiple_actions', error: 'Only one action per reply is allowed; yours had more than one JSON object. Send the first alone and wait for its result.' };
  }
  const obj = value as Record<string, unknown>;
  // Accept the common near-misses {name, arguments} and {tool_name, parameters}.
  const name = obj.tool ?? obj.name ?? obj.tool_name;
  const args = obj.args ?? obj.arguments ?? obj.parameters ?? {};
  if (typeof name !== 'string') {
    return { ok: false, kind: 'malformed', error: `Your JSON has no "tool" string. Use one of: ${knownToolsList(tools)}, e.g. ${example(tools)}` };
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return { ok: false, kind: 'invalid_param', error: `"args" must be a JSON object of parameters, e.g. ${example(tools)}` };
  }
  return validateCall(tools, name, args as Record<string, unknown>);
}
