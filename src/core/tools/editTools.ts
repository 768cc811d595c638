/** replace_in_file (exact, unique search/replace) and search_files (bounded text or regex search). */
import * as fs from 'node:fs/promises';
import * as z from 'zod';
import { defineTool, failure, limitsOf } from './types';
import { proposedNote } from './fileTools';
import { looksBinary, statIfExists, walk } from './walk';

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
    const attached = ctx.proposals?.match(args.path);
    let text: string;
    let shown: string;
    let save: (next: string) => Promise<unknown>;
    if (attached) {
      // An attached file outside the folder: edit the agent's proposed version; the file itself waits for the user.
      const current = await ctx.proposals!.read(attached);
      if (current === null) return failure(`There is no file "${args.path}". Use write_file to create it.`);
      if (args.search === '') return failure('The search text is empty. Copy the exact lines to change from the file; to replace the whole file use write_file.');
      text = current;
      shown = attached;
      save = next => ctx.proposals!.propose(attached, next);
    } else {
      const abs = sandbox.resolveWrite(args.path);
      const st = statIfExists(abs);
      if (!st) return failure(`There is no file "${args.path}". Use write_file to create it.`);
      if (st.isDirectory()) return failure(`"${args.path}" is a folder, not a file.`);
      if (st.size > limitsOf(ctx).maxReadBytes) return failure(`"${args.path}" is too large to edit here; rewrite it in smaller files.`);
      if (args.search === '') return failure('The search text is empty. Copy the exact lines to change from the file; to replace the whole file use write_file.');
      text = await fs.readFile(abs, 'utf8');
      shown = sandbox.display(abs);
      save = next => fs.writeFile(abs, next);
    }

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
      return failure(`The search text was not found in ${shown}.${hint} Copy the search text exactly from the file (use read_file), including indentation.`);
    }
    if (found.at.length > 1 && !args.replace_all) {
      const lines = found.at.slice(0, 10).map(i => lineOf(text, i));
      return failure(
        `The search text appears ${found.at.length} times in ${shown} (lines ${lines.join(', ')}${found.at.length > 10 ? ', …' : ''}). Add more surrounding lines to the search text so it matches exactly once, or set replace_all to true.`,
      );
    }
    // split/join, not String.replace: "$&" and friends in the replacement must stay literal.
    const next = args.replace_all ? text.split(found.search).join(found.replace) : text.slice(0, found.at[0]) + found.replace + text.slice(found.at[0]! + found.search.length);
    await save(next);
    const n = args.replace_all ? found.at.length : 1;
    return {
      ok: true,
      output: `Replaced ${n} occurrence${n > 1 ? 's' : ''} in ${shown} (line ${lineOf(text, found.at[0]!)}).${attached ? ` ${proposedNote(attached, 'an edit')}` : ''}`,
      data: { path: shown, replacements: n },
    };
  },
});

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
    const st = statIfExists(abs);
    if (!st) return failure(`There is no file or folder "${args.path}".`);
    let test: (line: string) => boolean;
    if (args.regex) {
      let re: RegExp;
      try {
        re = new RegExp(args.query, args.case_sensitive ? '' : 'i');
      } catch (e) {
        return failure(`The regular expression is invalid: ${(e as Error).message}. Fix it, or set regex to false for plain text.`);
      }
      test = line => re.test(line);
    } else {
      const q = args.case_sensitive ? args.query : args.query.toLowerCase();
      test = line => (args.case_sensitive ? line : line.toLowerCase()).includes(q);
    }
    const files: string[] = [];
    if (st.isFile()) files.push(abs);
    else {
      for await (const e of walk(abs, { recursive: true, signal: ctx.signal })) {
        if (e.kind === 'file') files.push(e.abs);
        if (files.length >= limits.maxSearchFiles) break;
      }
    }
    const hits: string[] = [];
    let more = 0;
    for (const file of files) {
      if (ctx.signal.aborted) break;
      const fst = statIfExists(file);
      if (!fst || fst.size > limits.maxSearchFileBytes) continue;
      const buf = await fs.readFile(file).catch(() => undefined);
      if (!buf || looksBinary(buf)) continue;
      const lines = buf.toString('utf8').split('\n');
      for (let i = 0; i < lines.length; i++) {
        // Long lines are tested on their first 2,000 characters: bounds the cost of a bad regex.
        const line = lines[i]!.replace(/\r$/, '');
        if (!test(line.slice(0, 2000))) continue;
        if (hits.length >= limits.maxSearchResults) {
          more++;
          continue;
        }
        const t = line.trim();
        hits.push(`${sandbox.display(file)}:${i + 1}: ${t.length > 200 ? `${t.slice(0, 200)}…` : t}`);
      }
    }
    if (!hits.length) return { ok: true, output: `No matches for ${JSON.stringify(args.query)} in ${sandbox.display(abs)}.`, data: { matches: 0 } };
    const tail = more ? `\n(${more} more matches not shown; narrow the query or the path)` : '';
    return { ok: true, output: hits.join('\n') + tail, data: { matches: hits.length + more } };
  },
});
