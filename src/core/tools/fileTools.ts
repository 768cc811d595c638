/**
 * list_files, read_file, write_file, delete_file: every path through the sandbox first, then opened
 * from the checked root without following links (core/workspace/safeFs), so what is checked is what is
 * used.
 */
import * as z from 'zod';
import { entryBelow, readFileBelow, unlinkBelow, writeFileBelow } from '../workspace/safeFs';
import { defineTool, failure, limitsOf } from './types';
import { looksBinary, SKIPPED_DIRS, walk } from './walk';

const PathArg = z.string().min(1, 'Give a path.').max(1024).describe('Path relative to your folder, e.g. src/index.js');

/** What the agent is told when its write to an attached file became a proposal. */
export function proposedNote(rel: string, what: string): string {
  return `Proposed a change to ${rel} (${what}). It is outside your folder, so it is applied when the user accepts it; read_file shows your version meanwhile. Carry on as if it were written.`;
}

function countLines(text: string): number {
  if (text === '') return 0;
  return text.split('\n').length - (text.endsWith('\n') ? 1 : 0);
}

export const listFiles = defineTool({
  name: 'list_files',
  description: `List files and folders (folders end with "/"). Skips ${[...SKIPPED_DIRS].join(', ')}.`,
  input: z.object({
    path: z.string().max(1024).default('.').describe('Folder to list, relative to your folder (default: your folder)'),
    recursive: z.boolean().default(false).describe('true to include subfolders'),
  }),
  example: { path: 'src', recursive: 'true' },
  async execute(args, ctx) {
    const { sandbox } = ctx;
    const abs = sandbox.resolveRead(args.path);
    const root = sandbox.rootOf(abs, 'read');
    const st = entryBelow(root, abs, args.path);
    if (st.kind === 'missing') return failure(`There is no folder "${args.path}". Use list_files on "." to see what exists.`);
    if (st.kind !== 'dir') return { ok: true, output: `${sandbox.display(abs)} is a file, not a folder.` };
    const max = limitsOf(ctx).maxListEntries;
    const lines: string[] = [];
    let more = 0;
    for await (const e of walk(abs, { recursive: args.recursive, signal: ctx.signal, root })) {
      if (lines.length >= max) {
        more++;
        continue;
      }
      const shown = sandbox.display(e.abs);
      lines.push(e.kind === 'dir' ? `${shown}/` : e.kind === 'link' ? `${shown}@` : shown);
    }
    const where = sandbox.display(abs);
    if (!lines.length) return { ok: true, output: `${where === '.' ? 'Your folder' : where} is empty.`, data: { entries: 0 } };
    const tail = more ? `\n(${more} more entries not shown; list a subfolder to see them)` : '';
    return { ok: true, output: lines.join('\n') + tail, data: { entries: lines.length + more } };
  },
});

export const readFile = defineTool({
  name: 'read_file',
  description: 'Read a text file, optionally only some lines. Long files are cut; the result says which lines you got and how to read on.',
  input: z
    .object({
      path: PathArg,
      start_line: z.number().int().min(1).optional().describe('First line to read (1-based)'),
      end_line: z.number().int().min(1).optional().describe('Last line to read (inclusive)'),
    })
    .refine(a => a.end_line === undefined || a.start_line === undefined || a.end_line >= a.start_line, {
      message: 'end_line must not be before start_line',
      path: ['end_line'],
    }),
  example: { path: 'src/index.js' },
  async execute(args, ctx) {
    const { sandbox } = ctx;
    const limits = limitsOf(ctx);
    const attached = ctx.proposals?.match(args.path);
    let shown: string;
    let buf: Buffer;
    if (attached) {
      // An attached file: the agent sees its own proposed version, if it made one.
      const content = await ctx.proposals!.read(attached);
      if (content === null) return failure(`There is no file "${args.path}" (its deletion is proposed, or it does not exist).`);
      shown = attached;
      buf = Buffer.from(content);
    } else {
      const abs = sandbox.resolveRead(args.path);
      shown = sandbox.display(abs);
      const root = sandbox.rootOf(abs, 'read');
      const entry = entryBelow(root, abs, args.path);
      if (entry.kind === 'missing') return failure(`There is no file "${args.path}". Use list_files to see what exists.`);
      if (entry.kind === 'dir') return failure(`"${args.path}" is a folder; use list_files to see inside it.`);
      const read = readFileBelow(root, abs, limits.maxReadBytes, args.path);
      if (read.kind === 'missing') return failure(`There is no file "${args.path}". Use list_files to see what exists.`);
      if (read.kind === 'too_large') return failure(`${shown} is too large to read (${read.size} bytes, limit ${limits.maxReadBytes}). Use search_files to find the part you need.`);
      buf = read.buf;
    }
    if (looksBinary(buf)) return { ok: true, output: `${shown} is a binary file (${buf.length} bytes); it is not shown.` };
    const text = buf.toString('utf8').replace(/\r\n/g, '\n');
    const lines = text.split('\n');
    if (text.endsWith('\n')) lines.pop();
    const total = lines.length;
    if (total === 0) return { ok: true, output: `${shown} is empty.`, data: { lines: 0 } };
    const start = args.start_line ?? 1;
    if (start > total) return failure(`${shown} has only ${total} lines; start_line ${start} is past the end.`);
    const end = Math.min(args.end_line ?? total, total);
    const picked: string[] = [];
    let size = 0;
    let last = start - 1;
    for (let i = start - 1; i < end; i++) {
      const line = lines[i]!;
      if (size + line.length + 1 > limits.readMaxChars && picked.length > 0) break;
      picked.push(line.length > limits.readMaxChars ? `${line.slice(0, limits.readMaxChars)}[… line cut]` : line);
      size += line.length + 1;
      last = i + 1;
    }
    const whole = start === 1 && last === total;
    const header = whole ? `${shown} (${total} lines):` : `${shown} lines ${start}-${last} of ${total}:`;
    const truncated = last < end;
    const note = truncated ? `\n[truncated: showed lines ${start}-${last} of ${total}; read on with start_line=${last + 1}]` : '';
    return { ok: true, output: `${header}\n${picked.join('\n')}${note}`, data: { start, end: last, total, truncated } };
  },
});

export const writeFile = defineTool({
  name: 'write_file',
  description: 'Create or overwrite a file with the full content given (parent folders are created). Use replace_in_file for small edits to a large file.',
  input: z.object({
    path: PathArg,
    content: z.string().describe('The complete file content, raw'),
  }),
  rawParams: ['content'],
  example: { path: 'src/add.js', content: 'function add(a, b) {\n  return a + b;\n}\nmodule.exports = { add };\n' },
  async execute(args, ctx) {
    const { sandbox } = ctx;
    const limits = limitsOf(ctx);
    const bytes = Buffer.byteLength(args.content);
    if (bytes > limits.maxWriteBytes) return failure(`The content is too large (${bytes} bytes, limit ${limits.maxWriteBytes}). Split it into smaller files.`);
    const attached = ctx.proposals?.match(args.path);
    if (attached) {
      await ctx.proposals!.propose(attached, args.content);
      return { ok: true, output: proposedNote(attached, `${countLines(args.content)} lines`), data: { path: attached, bytes, proposed: true } };
    }
    const abs = sandbox.resolveWrite(args.path);
    const root = sandbox.rootOf(abs, 'write');
    let created: boolean;
    try {
      ({ created } = writeFileBelow(root, abs, Buffer.from(args.content), args.path));
    } catch (e) {
      // Looked at only when the write failed (a write is the common case, and each look opens the folders again).
      if (entryBelow(root, abs, args.path).kind === 'dir') return failure(`"${args.path}" is a folder; write to a file path inside it.`);
      throw e;
    }
    const shown = sandbox.display(abs);
    return {
      ok: true,
      output: `${created ? 'Created' : 'Overwrote'} ${shown} (${countLines(args.content)} lines, ${bytes} bytes).`,
      data: { path: shown, bytes, created },
    };
  },
});

export const deleteFile = defineTool({
  name: 'delete_file',
  description: 'Delete one file in your folder (not folders).',
  input: z.object({ path: PathArg }),
  example: { path: 'src/old.js' },
  async execute(args, ctx) {
    const attached = ctx.proposals?.match(args.path);
    if (attached) {
      if ((await ctx.proposals!.read(attached)) === null) return failure(`There is no file "${args.path}" to delete.`);
      await ctx.proposals!.propose(attached, null);
      return { ok: true, output: proposedNote(attached, 'deletion'), data: { path: attached, proposed: true } };
    }
    // The entry itself: deleting a symlink removes the link, never the file it points to.
    const abs = ctx.sandbox.resolveEntry(args.path);
    const outcome = unlinkBelow(ctx.sandbox.rootOf(abs, 'write'), abs, args.path);
    if (outcome === 'missing') return failure(`There is no file "${args.path}" to delete.`);
    if (outcome === 'folder') return failure(`"${args.path}" is a folder; delete_file deletes files only. Delete the files inside it one by one.`);
    return { ok: true, output: `Deleted ${ctx.sandbox.display(abs)}.`, data: { path: ctx.sandbox.display(abs) } };
  },
});
