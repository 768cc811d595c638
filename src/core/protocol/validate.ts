/**
 * Validation shared by all three wire formats: a tool name and raw arguments in, a `ParseOutcome`
 * out, with messages precise enough for a small model to fix its next reply.
 */
import type * as z from 'zod';
import { isToolName, type ParseOutcome, type ToolSpec } from './types';

/** The schema's core type name, looking through optional/default/nullable wrappers. */
function coreType(schema: z.ZodType): string {
  let s: z.ZodType = schema;
  for (let i = 0; i < 8; i++) {
    const def = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType } } })._zod.def;
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) {
      s = def.innerType;
      continue;
    }
    return def.type;
  }
  return 'unknown';
}

const optional = new WeakMap<z.ZodType, boolean>();

/**
 * May the parameter be left out? (optional, or has a default) Asked of every parameter of every call, and a
 * failed parse builds zod's error: the answer is kept per schema, which never changes.
 */
function isOptional(schema: z.ZodType): boolean {
  let known = optional.get(schema);
  if (known === undefined) optional.set(schema, (known = schema.safeParse(undefined).success));
  return known;
}

/**
 * Text and JSON replies carry every value as a string (or a loosely typed JSON value). Convert the
 * obvious cases so `start_line: "10"` or `recursive: "yes"` is not a pointless round trip.
 */
function coerce(value: unknown, type: string): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (type === 'number' || type === 'int') {
    if (/^[+-]?\d+(\.\d+)?$/.test(t)) return Number(t);
    return value;
  }
  if (type === 'boolean') {
    const l = t.toLowerCase();
    if (['true', 'yes', '1', 'on'].includes(l)) return true;
    if (['false', 'no', '0', 'off', ''].includes(l)) return false;
  }
  return value;
}

export function knownToolsList(tools: readonly ToolSpec[]): string {
  return tools.map(t => t.name).join(', ');
}

export function unknownToolError(name: string, tools: readonly ToolSpec[]): ParseOutcome {
  return {
    ok: false,
    kind: 'unknown_tool',
    error: `There is no tool named "${name}". Use one of: ${knownToolsList(tools)}.`,
  };
}

/**
 * Validate `args` for tool `name`. Missing required parameters are reported by name before zod runs,
 * because zod's "expected string, received undefined" does not tell a model what to add.
 */
export function validateCall(
  tools: readonly ToolSpec[],
  name: string,
  rawArgs: Record<string, unknown>,
  id?: string,
  exampleOf?: (spec: ToolSpec) => string,
): ParseOutcome {
  const spec = tools.find(t => t.name === name);
  if (!spec || !isToolName(name)) return unknownToolError(name, tools);
  const shape = spec.input.shape as Record<string, z.ZodType>;
  const params = Object.keys(shape);
  // only an error shows it
  const example = () => (exampleOf ? ` Example:\n${exampleOf(spec)}` : '');

  const unknown = Object.keys(rawArgs).filter(k => !(k in shape));
  if (unknown.length) {
    return {
      ok: false,
      kind: 'invalid_param',
      error: `${name} has no parameter ${unknown.map(u => `"${u}"`).join(', ')}. Its parameters are: ${params.join(', ') || '(none)'}.${example()}`,
    };
  }
  const missing = params.filter(k => !isOptional(shape[k]!) && (rawArgs[k] === undefined || rawArgs[k] === null));
  if (missing.length) {
    return {
      ok: false,
      kind: 'missing_param',
      error: `${name} needs the parameter${missing.length > 1 ? 's' : ''} ${missing.map(m => `"${m}"`).join(', ')}, which ${missing.length > 1 ? 'are' : 'is'} missing.${example()}`,
    };
  }
  const args: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rawArgs)) args[k] = coerce(v, coreType(shape[k]!));
  const parsed = spec.input.safeParse(args);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `"${issue.path.join('.')}"` : 'the arguments';
    return { ok: false, kind: 'invalid_param', error: `Invalid value for ${where} of ${name}: ${issue.message}.${example()}` };
  }
  const call = { name, args: parsed.data as Record<string, unknown>, ...(id !== undefined ? { id } : {}) };
  return { ok: true, call };
}
