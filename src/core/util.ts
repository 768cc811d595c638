/** Small helpers shared by the services. */
import type * as z from 'zod';
import { AppError } from './errors';
import { describeZodError } from './model/schemas';

export { formatBytes, formatDuration } from './format';

/** Parses input at a boundary; a bad value becomes a validation error with the field named. */
export function parseInput<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (!r.success) throw new AppError('validation', describeZodError(r.error));
  return r.data;
}

/** The object without its undefined properties, so a partial patch does not erase fields. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
