/**
 * replace_in_file (exact, unique search/replace) and search_files (bounded text or regex search). Files
 * are opened from the checked root without following links (core/workspace/safeFs); regexes run in a
 * worker thread with a time limit (regexWorker.ts).
 */
import * as z from 'zod';
import { editFileBelow, entryBelow, readFileBelow } from '../workspace/safeFs';
import { RegexWorker } from './regexWorker';
import { defineTool, failure, limitsOf, type ToolResult } from './types';
import { proposedNote } from './fileTools';
import { looksBinary, walk } from './walk';

function occurrences(text: string, search: string): number[] {
  const at: number[] = [];
  for (let i = text.indexOf(search); i >= 0; i = text.indexOf(search, i + search.length)) at.push(i);
  return at;
}

function lineOf(text: string, index: number): number {
  let n = 1;
  for (let i = text.indexOf('\n'); i >= 0 && i < index; i = text.indexOf('\n', i + 1)) n++;
  return n;
}

/** Dice coefficient over character bigrams: cheap, and good enough to point at the line meant. */
function similarity(a: string, b: string): number {
  if (a === b) return 1;
  if (a.length < 2 || b.length < 2) return 0;
  const grams = new Map<string, number>();
  for (let i = 0; i < a.length - 1; i++) grams.set(a.slice(i, i + 2), (grams.get(a.slice(i, i + 2)) ?? 0) + 1);
  let hits = 0;
  for (let i = 0; i < b.length - 1; i++) {
    const g = b.slice(i, i + 2);
    const n = grams.get(g) ?? 0;
    if (n > 0) {
      hits++;
      grams.set(g, n - 1);
    }
  }
  return (2 * hits) / (a.length - 1 + b.length - 1);
}

/** The file line closest to the first non-blank line of the search text. */
export function closestLine(text: string, search: string): { line: number; text: string; score: number; sameExceptSpace: boolean } | undefined {
  const want = search.split('\n').find(l => l.trim() !== '')?.trim();
  if (!want) return undefined;
  const squash = (s: string) => s.replace(/\s+/g, '');
  let best: { line: number; text: string; score: number; sameExceptSpace: boolean } | undefined;
  const lines = text.split('\n');
  for (let i = 0; i < lines.length && i < 20_000; i++) {
    const l = lines[i]!.replace(/\r$/, '');
    const t = l.trim().slice(0, 400);
    if (!t) continue;
    const sameExceptSpace = squash(t) === squash(want);
    const score = sameExceptSpace ? 1 : similarity(t, want.slice(0, 400));
    if (!best || score > best.score) best = { line: i + 1, text: l, score, sameExceptSpace };
  }
  return best;
}

export const replaceInFile = defineTool({
  name: 'replace_in_file',
  description: 'Replace an exact piece of text in a file. The search text must match the file exactly (indentation included) and occur exactly once, unless replace_all is true.',
  input: z.object({
    path: z.string().min(1).max(1024).describe('Path relative to your folder'),
    search: z.string().describe('Exact text to find, copied from the file'),
    replace: z.string().describe('Text to put in its place'),
    replace_all: z.boolean().default(false).describe('true to replace every occurrence'),
  }),
  rawParams: ['search', 'replace'],
  example: { path: 'src/add.js', search: '  return a + b;', replace: '  return Number(a) + Number(b);' },
  async execute(args, ctx) {
    const { sandbox } = ctx;
    const limits = limitsOf(ctx);
    if (args.search === '') return failure('The search text is empty. Copy the exact lines to change from the file; to replace the whole file use write_file.');
    const attached = ctx.proposals?.match(args.path);
    if (attached) {
      // An attached file outside the folder: edit the agent's proposed version; the file itself waits for the user.
      const current = await ctx.proposals!.read(attached);
      if (current === null) return failure(`There is no file "${args.path}". Use write_file to create it.`);
      const out = replaceText(current, args, attached, limits.maxWriteBytes);
      if (out.next === undefined) return out.result;
      await ctx.proposals!.propose(attached, out.next);
      return { ...out.result, output: `${out.result.output} ${proposedNote(attached, 'an edit')}` };
    }
    const abs = sandbox.resolveWrite(args.path);
    const root = sandbox.rootOf(abs, 'write');
    const shown = sandbox.display(abs);
    if (entryBelow(root, abs, args.path).kind === 'dir') return failure(`"${args.path}" is a folder, not a file.`);
    // Read, decide and write through one descriptor: the file written is the file read.
    const r = editFileBelow<ToolResult>(
      root,
      abs,
      limits.maxReadBytes,
      buf => {
        const out = replaceText(buf.toString('utf8'), args, shown, limits.maxWriteBytes);
        return { data: out.next === undefined ? undefined : Buffer.from(out.next), result: out.result };
      },
      args.path,
    );
    if (r.kind === 'missing') return failure(`There is no file "${args.path}". Use write_file to create it.`);
    if (r.kind === 'too_large') return failure(`"${args.path}" is too large to edit here; rewrite it in smaller files.`);
    return r.result!;
  },
});

/** The edit itself: the new text (undefined when nothing changes) and what to tell the model. */
function replaceText(
  text: string,
  args: { search: string; replace: string; replace_all: boolean },
  shown: string,
  maxWriteBytes: number,
): { next?: string; result: ToolResult } {
  // Models write LF and often drop or add the final newline; try those variants before giving up.
  const variants: Array<[string, string]> = [[args.search, args.replace]];
  if (text.includes('\r\n')) variants.push([args.search.replace(/\r?\n/g, '\r\n'), args.replace.replace(/\r?\n/g, '\r\n')]);
  if (args.search.endsWith('\n')) variants.push([args.search.replace(/\n$/, ''), args.replace.replace(/\n$/, '')]);
  let found: { at: number[]; search: string; replace: string } | undefined;
  for (const [s, r] of variants) {
    const at = occurrences(text, s);
    if (at.length) {
      found = { at, search: s, replace: r };
      break;
    }
  }
  if (!found) {
    const near = closestLine(text, args.search);
    const hint =
      near && near.score >= 0.4
        ? ` The closest line is line ${near.line}: ${JSON.stringify(near.text)}${near.sameExceptSpace ? ' (it differs only in spaces or indentation)' : ''}.`
        : ' No similar line was found either.';
    return { result: failure(`The search text was not found in ${shown}.${hint} Copy the search text exactly from the file (use read_file), including indentation.`) };
  }
  if (found.at.length > 1 && !args.replace_all) {
    const lines = found.at.slice(0, 10).map(i => lineOf(text, i));
    return {
      result: failure(
        `The search text appears ${found.at.length} times in ${shown} (lines ${lines.join(', ')}${found.at.length > 10 ? ', …' : ''}). Add more surrounding lines to the search text so it matches exactly once, or set replace_all to true.`,
      ),
    };
  }
  const n = args.replace_all ? found.at.length : 1;
  // The result is capped like write_file, computed before it is built: replace-all of a short text by a
  // long one can multiply the size (2 MB became 191 MB).
  const size = Buffer.byteLength(text) + n * (Buffer.byteLength(found.replace) - Buffer.byteLength(found.search));
  if (size > maxWriteBytes) {
    return {
      result: failure(
        `The result would be ${size} bytes, over the ${maxWriteBytes}-byte limit for a file, so ${shown} was left unchanged. Replace fewer occurrences, or split the file.`,
      ),
    };
  }
  // split/join, not String.replace: "$&" and friends in the replacement must stay literal.
  const next = args.replace_all ? text.split(found.search).join(found.replace) : text.slice(0, found.at[0]) + found.replace + text.slice(found.at[0]! + found.search.length);
  return {
    next,
    result: {
      ok: true,
      output: `Replaced ${n} occurrence${n > 1 ? 's' : ''} in ${shown} (line ${lineOf(text, found.at[0]!)}).`,
      data: { path: shown, replacements: n },
    },
  };
}

/** Matches counted per file beyond those shown (bounds the worker's reply). */
const COUNT_CAP = 100_000;

export const searchFiles = defineTool({
  name: 'search_files',
  description: 'Search file contents for text (or a regular expression); shows matching lines as path:line: text.',
  input: z.object({
    query: z.string().min(1, 'Give the text to search for.').max(500),
    path: z.string().max(1024).default('.').describe('Folder (or file) to search, relative to your folder'),
    regex: z.boolean().default(false).describe('true to treat query as a JavaScript regular expression'),
    case_sensitive: z.boolean().default(false),
  }),
  example: { query: 'function add', path: 'src' },
  async execute(args, ctx) {
    const { sandbox } = ctx;
    const limits = limitsOf(ctx);
    const abs = sandbox.resolveRead(args.path);
    const root = sandbox.rootOf(abs, 'read');
    const st = entryBelow(root, abs, args.path);
    if (st.kind === 'missing') return failure(`There is no file or folder "${args.path}".`);
    let regex: RegexWorker | undefined;
    let test: ((text: string, max: number) => Promise<number[]>) | undefined;
    if (args.regex) {
      const flags = args.case_sensitive ? '' : 'i';
      try {
        new RegExp(args.query, flags);
      } catch (e) {
        return failure(`The regular expression is invalid: ${(e as Error).message}. Fix it, or set regex to false for plain text.`);
      }
      regex = new RegexWorker(args.query, flags, limits.regexTimeoutMs, ctx.signal);
      test = (text, max) => regex!.match(text, max);
    } else {
      const q = args.case_sensitive ? args.query : args.query.toLowerCase();
      test = async (text, max) => {
        const hits: number[] = [];
        const lines = text.split('\n');
        for (let i = 0; i < lines.length && hits.length <= max; i++) {
          // Long lines are tested on their first 2,000 characters, as regexes are.
          const line = lines[i]!.replace(/\r$/, '').slice(0, 2000);
          if ((args.case_sensitive ? line : line.toLowerCase()).includes(q)) hits.push(i);
        }
        return hits;
      };
    }
    try {
      const files: string[] = [];
      if (st.kind === 'file') files.push(abs);
      else if (st.kind === 'dir') {
        for await (const e of walk(abs, { recursive: true, signal: ctx.signal, root })) {
          if (e.kind === 'file') files.push(e.abs);
          if (files.length >= limits.maxSearchFiles) break;
        }
      }
      const hits: string[] = [];
      let more = 0;
      for (const file of files) {
        if (ctx.signal.aborted) break;
        let read;
        try {
          read = readFileBelow(root, file, limits.maxSearchFileBytes, sandbox.display(file));
        } catch {
          continue; // swapped for a link, a FIFO, unreadable: not searched
        }
        if (read.kind !== 'ok' || looksBinary(read.buf)) continue;
        const text = read.buf.toString('utf8');
        const matched = await test(text, COUNT_CAP);
        if (!matched.length) continue;
        const lines = text.split('\n');
        for (const i of matched) {
          if (hits.length >= limits.maxSearchResults) {
            more++;
            continue;
          }
          const t = lines[i]!.replace(/\r$/, '').trim();
          hits.push(`${sandbox.display(file)}:${i + 1}: ${t.length > 200 ? `${t.slice(0, 200)}…` : t}`);
        }
      }
      if (!hits.length) return { ok: true, output: `No matches for ${JSON.stringify(args.query)} in ${sandbox.display(abs)}.`, data: { matches: 0 } };
      const tail = more ? `\n(${more} more matches not shown; narrow the query or the path)` : '';
      return { ok: true, output: hits.join('\n') + tail, data: { matches: hits.length + more } };
    } finally {
      await regex?.dispose();
    }
  },
});
