/** Numbers as a person reads them. No imports, so any renderer can use them without the schemas. */

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
