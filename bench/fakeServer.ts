/**
 * The fake Ollama in its own process, so the agent-loop benchmark measures only the client's CPU.
 * Every reply takes a fixed 50 ms before its first piece; the first 29 write a file of about 400 characters,
 * the 30th completes.
 * PIECE_CHARS sets the characters per streamed piece: 4 (about a token, as Ollama streams) by default,
 * Infinity for the same replies in one piece each.
 * Prints the URL on stdout, then serves until killed.
 */
import { startFakeOllama } from '../test/fake-ollama/server';
import { asText } from '../test/fake-ollama/scenarios';

const REPLY_MS = Number(process.env.REPLY_MS ?? 50);
const STEPS = Number(process.env.STEPS ?? 30);
const PIECE_CHARS = Number(process.env.PIECE_CHARS ?? 4);

/** A small module, about 400 characters: a file as a model writes it, about 100 pieces of 4 characters. */
function body(step: number): string {
  return [
    `// Module ${step}: adds, scales and clamps numbers.`,
    `function add${step}(a, b) {`,
    '  return a + b;',
    '}',
    `function scale${step}(x, factor = ${step}) {`,
    '  return x * factor;',
    '}',
    `function clamp${step}(x, lo, hi) {`,
    '  return Math.min(hi, Math.max(lo, x));',
    '}',
    `module.exports = { add${step}, scale${step}, clamp${step} };`,
    '',
  ].join('\n');
}

void (async () => {
  let step = 0;
  const fake = await startFakeOllama({ timeScale: 0 });
  fake.onChat(() => {
    step++;
    const action =
      step % STEPS === 0
        ? asText({ tool: 'complete', args: { result: `done after ${STEPS} steps` } })
        : asText({ tool: 'write_file', args: { path: `src/f${step}.js`, content: body(step) } });
    return { ...action, delayMs: REPLY_MS, pieceDelayMs: 0, pieceChars: PIECE_CHARS };
  });
  process.stdout.write(`${fake.url}\n`);
})();
