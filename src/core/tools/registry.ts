/**
 * The tool registry: definitions by name, their specs for the wire formats, and `execute`, which
 * validates again (calls may come from the API, not only from a parser), turns every expected failure
 * into a result the model can read, and bounds the output. Only cancellation propagates as an error,
 * so the loop stops instead of telling the model.
 */
import type { ToolCall, ToolName, ToolSpec } from '../protocol/types';
import { AppError, errorMessage } from '../errors';
import { clipText } from './output';
import { limitsOf, type ToolContext, type ToolDefinition, type ToolResult } from './types';

export class ToolRegistry {
  private readonly tools = new Map<ToolName, ToolDefinition>();

  constructor(definitions: readonly ToolDefinition[] = []) {
    for (const d of definitions) this.register(d);
  }

  register(def: ToolDefinition): this {
    if (this.tools.has(def.name)) throw new AppError('internal', `Tool ${def.name} is registered twice.`);
    this.tools.set(def.name, def);
    return this;
  }

  get(name: string): ToolDefinition | undefined {
    return this.tools.get(name as ToolName);
  }

  names(): ToolName[] {
    return [...this.tools.keys()];
  }

  /** What the protocol parsers and prompt renderers need. */
  specs(): ToolSpec[] {
    return [...this.tools.values()];
  }

  /** A registry with only some tools (e.g. a reviewer that may not write). */
  subset(names: readonly ToolName[]): ToolRegistry {
    return new ToolRegistry(names.map(n => this.tools.get(n)).filter((d): d is ToolDefinition => !!d));
  }

  async execute(call: ToolCall, ctx: ToolContext): Promise<ToolResult> {
    if (ctx.signal.aborted) throw new AppError('cancelled', 'The run was cancelled.');
    const def = this.tools.get(call.name);
    if (!def) return { ok: false, output: `There is no tool named "${call.name}". Use one of: ${this.names().join(', ')}.` };
    const parsed = def.input.safeParse(call.args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      return { ok: false, output: `Invalid value for "${issue.path.join('.') || 'arguments'}" of ${call.name}: ${issue.message}.` };
    }
    let result: ToolResult;
    try {
      const r = await def.execute(parsed.data, ctx);
      result = typeof r === 'string' ? { ok: true, output: r } : r;
    } catch (e) {
      if (AppError.is(e, 'cancelled') || ctx.signal.aborted) throw new AppError('cancelled', 'The run was cancelled.', undefined, { cause: e });
      if (AppError.is(e)) result = { ok: false, output: e.message };
      else {
        const code = (e as NodeJS.ErrnoException).code;
        result = { ok: false, output: `${call.name} failed${code ? ` (${code})` : ''}: ${errorMessage(e)}` };
      }
    }
    return { ...result, output: clipText(result.output, limitsOf(ctx).maxOutputChars) };
  }
}
