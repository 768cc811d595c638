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

/**
 * Streamed text gathered and written at most every `ms` (a reply's pieces for an output channel: each
 * `append` there is a message from the extension host to the window, and a model streams a piece per token).
 * `flush` writes what is pending now.
 */
export function bufferedAppend(out: { append(text: string): void }, ms = 100): { append(text: string): void; flush(): void } {
  let pending = '';
  let timer: ReturnType<typeof setTimeout> | undefined;
  const flush = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    if (!pending) return;
    const text = pending;
    pending = '';
    out.append(text);
  };
  return {
    append(text) {
      pending += text;
      timer ??= setTimeout(flush, ms);
    },
    flush,
  };
}
