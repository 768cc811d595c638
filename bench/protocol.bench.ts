/**
 * Text-protocol parse time for a ~100 KB reply, whole and streamed in 64-byte chunks.
 * Run: npx tsc -p . && node out/bench/protocol.bench.js
 * Target: ≤ 5 ms each (a model turn takes seconds; parsing must stay well under 1% of it).
 */
import { performance } from 'node:perf_hooks';
import { parseTextReply, TextProtocolStreamParser } from '../src/core/protocol';
import { ALL_TOOLS } from '../src/core/tools';

const TARGET_MS = 5;
const RUNS = 21;
const specs = [...ALL_TOOLS];

function makeReply(bytes: number): string {
  const line = 'export function f(a: number, b: number): boolean { return a < b && b > 0 || "</div>".length > 1; }\n';
  const body = line.repeat(Math.ceil(bytes / line.length));
  return `<think>Plan: write the module.</think>\nHere is the file:\n<write_file>\n<path>src/big.ts</path>\n<content>\n${body}</content>\n</write_file>\nDone.`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
}

function time(fn: () => void): number {
  const t0 = performance.now();
  fn();
  return performance.now() - t0;
}

const reply = makeReply(100 * 1024);
const check = parseTextReply(reply, specs);
if (!check.ok) throw new Error(`bench reply does not parse: ${check.error}`);

const whole: number[] = [];
const streamed: number[] = [];
for (let i = 0; i < RUNS; i++) {
  whole.push(time(() => parseTextReply(reply, specs)));
  streamed.push(
    time(() => {
      const p = new TextProtocolStreamParser(specs);
      for (let j = 0; j < reply.length; j += 64) p.push(reply.slice(j, j + 64));
      if (!p.finish().ok) throw new Error('streamed parse failed');
    }),
  );
}

const w = median(whole);
const s = median(streamed);
const out = (label: string, ms: number) => `${label.padEnd(40)} ${ms.toFixed(3).padStart(8)} ms  ${ms <= TARGET_MS ? 'OK' : 'SLOW'}`;
process.stdout.write(
  [
    `text protocol parse, ${(reply.length / 1024).toFixed(0)} KB reply, median of ${RUNS} runs`,
    out('whole reply', w),
    out('streamed, 64-byte chunks (incl. finish)', s),
    `target: <= ${TARGET_MS} ms each -> ${w <= TARGET_MS && s <= TARGET_MS ? 'met' : 'NOT met'}`,
    `[bench] protocol_parse_100kb_ms=${w.toFixed(3)}`,
    `[bench] protocol_parse_100kb_streamed_ms=${s.toFixed(3)}`,
    '',
  ].join('\n'),
);
