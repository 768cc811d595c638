/**
 * Native tool calling (models with the `tools` capability): definitions for the request, and the
 * provider's tool_calls mapped to `ToolCall` with the same validation as the other formats.
 */
import * as z from 'zod';
import type { ParseOutcome, ToolSpec } from './types';
import { validateCall } from './validate';

export interface NativeToolDefinition {
  type: 'function';
  function: { name: string; description: string; parameters: Record<string, unknown> };
}

/** The `tools` array for Ollama /api/chat and OpenAI-compatible servers. */
export function nativeToolDefinitions(tools: readonly ToolSpec[]): NativeToolDefinition[] {
  return tools.map(t => {
    const { $schema: _drop, ...parameters } = z.toJSONSchema(t.input, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;
    return { type: 'function', function: { name: t.name, description: t.description, parameters } };
  });
}

/** Ollama sends `arguments` as an object; OpenAI-compatible servers send a JSON string. */
export interface NativeToolCall {
  id?: string;
  function: { name: string; arguments: Record<string, unknown> | string; index?: number };
}

export function parseNativeToolCalls(toolCalls: readonly NativeToolCall[] | undefined, tools: readonly ToolSpec[], content = ''): ParseOutcome {
  if (!toolCalls || toolCalls.length === 0) {
    return {
      ok: false,
      kind: content.trim() ? 'no_action' : 'empty',
      error: 'Your reply called no tool. Call exactly one tool; when the task is done, call complete.',
    };
  }
  if (toolCalls.length > 1) {
    return {
      ok: false,
      kind: 'multiple_actions',
      error: `Only one tool call per reply is allowed; yours had ${toolCalls.length} (${toolCalls.map(c => c.function.name).join(', ')}). Nothing was run. Call the first alone and wait for its result.`,
    };
  }
  const call = toolCalls[0]!;
  let args: unknown = call.function.arguments;
  if (typeof args === 'string') {
    try {
      args = args.trim() === '' ? {} : JSON.parse(args);
    } catch (e) {
      return { ok: false, kind: 'malformed', error: `The arguments of ${call.function.name} are not valid JSON (${(e as Error).message}).` };
    }
  }
  if (typeof args !== 'object' || args === null || Array.isArray(args)) {
    return { ok: false, kind: 'invalid_param', error: `The arguments of ${call.function.name} must be an object of parameters.` };
  }
  return validateCall(tools, call.function.name, args as Record<string, unknown>, call.id);
}
