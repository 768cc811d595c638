/** Small helpers shared by the services. */
import type * as z from 'zod';
import { AppError } from './errors';
import { describeZodError } from './model/schemas';

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

/** A duration as a person says it: "5 seconds", "1 minute", "2 minutes 30 seconds", "1 hour 5 minutes". */
export function formatDuration(ms: number): string {
  const unit = (n: number, w: string) => `${n} ${w}${n === 1 ? '' : 's'}`;
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return unit(s, 'second');
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${unit(m, 'minute')} ${unit(s % 60, 'second')}` : unit(m, 'minute');
  const h = Math.floor(m / 60);
  return m % 60 ? `${unit(h, 'hour')} ${unit(m % 60, 'minute')}` : unit(h, 'hour');
}

/** A size in bytes as a person reads it: "815 MB", "8.9 GB". */
export function formatBytes(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(1).replace(/\.0$/, '')} GB`;
  if (n >= 1e6) return `${Math.round(n / 1e6)} MB`;
  if (n >= 1e3) return `${Math.round(n / 1e3)} KB`;
  return `${n} bytes`;
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
