/**
 * What the model is told about the text protocol, and how results go back to it. Results are sent as
 * USER messages: the target models' chat templates drop `tool`-role messages silently.
 */
import * as z from 'zod';
import type { ToolSpec } from './types';

/** One call of `spec` in the text protocol, built from its example. */
export function renderExample(spec: ToolSpec): string {
  const raw = new Set(spec.rawParams ?? []);
  const lines = [`<${spec.name}>`];
  for (const [k, v] of Object.entries(spec.example)) {
    lines.push(raw.has(k) ? `<${k}>\n${v.endsWith('\n') ? v : `${v}\n`}</${k}>` : `<${k}>${v}</${k}>`);
  }
  lines.push(`</${spec.name}>`);
  return lines.join('\n');
}

interface ParamDoc {
  name: string;
  required: boolean;
  description?: string;
  type?: string;
}

export function paramDocs(spec: ToolSpec): ParamDoc[] {
  const schema = z.toJSONSchema(spec.input, { io: 'input', unrepresentable: 'any' }) as {
    properties?: Record<string, { description?: string; type?: string }>;
    required?: string[];
  };
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, p]) => ({ name, required: required.has(name), description: p.description, type: p.type }));
}

/** The system-prompt section that teaches the format, with one example per tool. */
export function renderTextProtocolInstructions(tools: readonly ToolSpec[]): string {
  const out: string[] = [
    '## How to act',
    '',
    'You act by writing exactly ONE action per reply, as XML-style tags: the tool name as the outer tag and each parameter as an inner tag.',
    'Rules:',
    '- One action per reply. Then stop and wait: the result comes back in the next message as <tool_result name="...">...</tool_result>.',
    '- Write values raw. Code goes inside <content> (or <search>/<replace>) exactly as it should appear in the file: no escaping, no code fences, no line numbers.',
    '- Paths are relative to your folder, with forward slashes (e.g. src/index.js).',
    '- You may think briefly before the action, but do not mention tool tags except in the one action.',
    '- When the task is done, use <complete>; if you cannot do it, use <fail>.',
    '',
    '## Tools',
  ];
  for (const spec of tools) {
    out.push('', `### ${spec.name}`, spec.description);
    const docs = paramDocs(spec);
    if (docs.length) {
      out.push('Parameters:');
      for (const d of docs) {
        const notes = [d.type && d.type !== 'string' ? d.type : '', d.required ? '' : 'optional'].filter(Boolean);
        out.push(`- ${d.name}${notes.length ? ` (${notes.join(', ')})` : ''}${d.description ? `: ${d.description}` : ''}`);
      }
    }
    out.push('Example:', renderExample(spec));
  }
  return out.join('\n');
}

export interface FormatResultOptions {
  /** false marks the result as an error, so the model does not mistake a refusal for success. */
  ok?: boolean;
}

/**
 * `<tool_result name="read_file">…</tool_result>`, to be sent as a USER message. A literal
 * `</tool_result>` inside the output (a file that contains one) is defused so the result cannot appear
 * to end early and the rest be read as instructions.
 */
export function formatToolResult(name: string, result: string | { output: string }, options: FormatResultOptions = {}): string {
  const output = typeof result === 'string' ? result : result.output;
  const safeName = name.replace(/[^\w.-]/g, '_');
  const status = options.ok === false ? ' status="error"' : '';
  const body = output.replace(/<\/tool_result\s*>/gi, '&lt;/tool_result>');
  return `<tool_result name="${safeName}"${status}>\n${body}\n</tool_result>`;
}
