/**
 * The one internal shape of a tool call, whatever wire format the model used (native tool_calls,
 * the XML-style text protocol, or a JSON object constrained by `format`). Everything after the
 * parser (registry, loop, transcript) only ever sees `ToolCall`.
 */
import type * as z from 'zod';

export const TOOL_NAMES = [
  'list_files',
  'read_file',
  'write_file',
  'replace_in_file',
  'delete_file',
  'search_files',
  'run_tests',
  'run_command',
  'report_progress',
  'send_message',
  'complete',
  'fail',
  'approve',
  'request_changes',
  'ask',
  'create_subtasks',
] as const;

export type ToolName = (typeof TOOL_NAMES)[number];

export function isToolName(name: string): name is ToolName {
  return (TOOL_NAMES as readonly string[]).includes(name);
}

export interface ToolCall {
  name: ToolName;
  args: Record<string, unknown>;
  /** Provider-assigned id (native tool calls only); echoed back so a transcript can pair call and result. */
  id?: string;
}

/** Why a reply could not be turned into a call; lets the loop count malformed replies by kind. */
export type ParseErrorKind =
  | 'empty'
  | 'no_action'
  | 'multiple_actions'
  | 'unknown_tool'
  | 'unclosed'
  | 'malformed'
  | 'missing_param'
  | 'invalid_param'
  | 'cut_off';

/**
 * `error` is written for the model: it is sent back verbatim as the next user message, so it says
 * what was wrong and what a correct reply looks like.
 */
export type ParseOutcome = { ok: true; call: ToolCall } | { ok: false; kind: ParseErrorKind; error: string };

/** What the wire formats need to know about a tool. The tool registry's definitions extend this. */
export interface ToolSpec {
  name: ToolName;
  description: string;
  /** Arguments schema. Keys are the parameter names the model writes (snake_case). */
  input: z.ZodObject;
  /** One realistic call, rendered into the prompt as the example for this tool. Values are raw text. */
  example: Record<string, string>;
  /**
   * Parameters whose text bodies are file contents: kept verbatim (only one leading and one trailing
   * newline are dropped) instead of being trimmed.
   */
  rawParams?: readonly string[];
}

/** Ollama's `done_reason`; 'length' means the reply was cut off by `num_predict` or the context. */
export type DoneReason = 'stop' | 'length' | string;

export type WireProtocol = 'native' | 'text' | 'json';
