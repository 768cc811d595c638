import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { ALL_TOOLS, createReviewerRegistry, createToolRegistry } from '../../../src/core/tools';
import { TOOL_NAMES, type ToolCall } from '../../../src/core/protocol';
import { fixture, write, type Fixture } from './helpers';

describe('tools: files', () => {
  let f: Fixture;
  beforeEach(() => {
    f = fixture();
    write(f.dir, 'src/a.js', 'function add(a, b) {\n  return a + b;\n}\n');
    write(f.dir, 'src/b.js', 'x\nx\nx\n');
    write(f.dir, 'node_modules/dep/index.js', 'skip');
    write(f.dir, 'README.md', '# alice\n');
    write(f.ws, 'shared/spec.md', 'shared spec\n');
  });
  afterEach(() => f.cleanup());

  it('the registry has every tool once, with descriptions and examples', () => {
    // An author has every tool but the verdicts; a reviewer has the verdicts, and the writing tools only to refuse them.
    const verdicts = ['approve', 'request_changes'];
    assert.deepEqual(createToolRegistry().names().sort(), [...TOOL_NAMES].filter(n => !verdicts.includes(n)).sort());
    assert.deepEqual(createReviewerRegistry().names().sort(), [...TOOL_NAMES].sort());
    for (const t of ALL_TOOLS) assert.ok(t.description.length > 10 && t.example, t.name);
  });

  describe('list_files', () => {
    it('lists the folder, folders with /, skipping node_modules', async () => {
      const r = await f.run('list_files');
      assert.ok(r.ok);
      assert.equal(r.output, 'README.md\nsrc/');
    });
    it('recursive', async () => {
      const r = await f.run('list_files', { recursive: true });
      assert.equal(r.output, 'README.md\nsrc/\nsrc/a.js\nsrc/b.js');
    });
    it('is bounded and says how many were left out', async () => {
      for (let i = 0; i < 30; i++) write(f.dir, `many/f${String(i).padStart(2, '0')}.txt`, '');
      f.ctx.limits = { maxListEntries: 10 };
      const r = await f.run('list_files', { path: 'many' });
      assert.equal(r.output.split('\n').length, 11);
      assert.match(r.output, /20 more entries not shown/);
    });
    it('missing folder and escapes are errors for the model', async () => {
      assert.match((await f.run('list_files', { path: 'nope' })).output, /There is no folder "nope"/);
      const esc = await f.run('list_files', { path: '../../..' });
      assert.ok(!esc.ok);
      assert.match(esc.output, /Refused path/);
    });
    it('empty folder', async () => {
      fs.mkdirSync(path.join(f.dir, 'empty'));
      assert.match((await f.run('list_files', { path: 'empty' })).output, /empty is empty/);
    });
  });

  describe('read_file', () => {
    it('reads a whole file with a header', async () => {
      const r = await f.run('read_file', { path: 'src/a.js' });
      assert.equal(r.output, 'src/a.js (3 lines):\nfunction add(a, b) {\n  return a + b;\n}');
    });
    it('reads a line range', async () => {
      const r = await f.run('read_file', { path: 'src/a.js', start_line: 2, end_line: 2 });
      assert.equal(r.output, 'src/a.js lines 2-2 of 3:\n  return a + b;');
    });
    it('reads attachments elsewhere in the workspace', async () => {
      assert.match((await f.run('read_file', { path: '../../shared/spec.md' })).output, /shared spec/);
    });
    it('says when it truncated and how to read on', async () => {
      write(f.dir, 'big.txt', Array.from({ length: 1000 }, (_, i) => `line ${i + 1}`).join('\n'));
      f.ctx.limits = { readMaxChars: 200 };
      const r = await f.run('read_file', { path: 'big.txt' });
      assert.match(r.output, /\[truncated: showed lines 1-\d+ of 1000; read on with start_line=\d+\]/);
      assert.equal((r.data as { truncated: boolean }).truncated, true);
    });
    it('errors: missing file, folder, past the end, binary, too large', async () => {
      assert.match((await f.run('read_file', { path: 'nope.js' })).output, /There is no file "nope.js"/);
      assert.match((await f.run('read_file', { path: 'src' })).output, /is a folder/);
      assert.match((await f.run('read_file', { path: 'src/a.js', start_line: 9 })).output, /has only 3 lines/);
      fs.writeFileSync(path.join(f.dir, 'bin.dat'), Buffer.from([1, 0, 2, 3]));
      assert.match((await f.run('read_file', { path: 'bin.dat' })).output, /binary file/);
      f.ctx.limits = { maxReadBytes: 10 };
      assert.match((await f.run('read_file', { path: 'src/a.js' })).output, /too large/);
    });
  });

  describe('write_file', () => {
    it('creates parent folders and reports created vs overwrote', async () => {
      const r = await f.run('write_file', { path: 'lib/deep/x.js', content: 'a\nb\n' });
      assert.equal(r.output, 'Created lib/deep/x.js (2 lines, 4 bytes).');
      assert.equal(fs.readFileSync(path.join(f.dir, 'lib/deep/x.js'), 'utf8'), 'a\nb\n');
      assert.match((await f.run('write_file', { path: 'lib/deep/x.js', content: 'c' })).output, /^Overwrote/);
    });
    it('an overwrite leaves exactly the new content, shorter, longer or empty', async () => {
      const file = path.join(f.dir, 'o.txt');
      for (const content of ['a long first line\nand a second\n', 'short\n', 'longer than short, again\n', '', 'x']) {
        assert.ok((await f.run('write_file', { path: 'o.txt', content })).ok);
        assert.equal(fs.readFileSync(file, 'utf8'), content);
      }
    });
    it('refuses writes outside the folder, to a folder, and oversized content', async () => {
      const r = await f.run('write_file', { path: '../../shared/spec.md', content: 'x' });
      assert.ok(!r.ok);
      assert.match(r.output, /write only inside your folder agents\/alice\//);
      assert.equal(fs.readFileSync(path.join(f.ws, 'shared/spec.md'), 'utf8'), 'shared spec\n');
      assert.match((await f.run('write_file', { path: 'src', content: 'x' })).output, /is a folder/);
      f.ctx.limits = { maxWriteBytes: 3 };
      assert.match((await f.run('write_file', { path: 'y.txt', content: 'abcd' })).output, /too large/);
    });
    it('a missing content is a validation error', async () => {
      const r = await f.run('write_file', { path: 'a.txt' });
      assert.ok(!r.ok);
      assert.match(r.output, /Invalid value for "content"/);
    });
  });

  describe('delete_file', () => {
    it('deletes a file', async () => {
      assert.equal((await f.run('delete_file', { path: 'src/b.js' })).output, 'Deleted src/b.js.');
      assert.ok(!fs.existsSync(path.join(f.dir, 'src/b.js')));
    });
    it('errors: missing, folder, outside', async () => {
      assert.match((await f.run('delete_file', { path: 'nope' })).output, /no file "nope"/);
      assert.match((await f.run('delete_file', { path: 'src' })).output, /deletes files only/);
      assert.match((await f.run('delete_file', { path: '../../shared/spec.md' })).output, /Refused path/);
      assert.match((await f.run('delete_file', { path: '.' })).output, /your folder itself/);
    });
  });

  describe('replace_in_file', () => {
    it('replaces a unique exact match, literally (no $& expansion)', async () => {
      const r = await f.run('replace_in_file', { path: 'src/a.js', search: '  return a + b;', replace: '  return "$&" + a;' });
      assert.equal(r.output, 'Replaced 1 occurrence in src/a.js (line 2).');
      assert.equal(fs.readFileSync(path.join(f.dir, 'src/a.js'), 'utf8'), 'function add(a, b) {\n  return "$&" + a;\n}\n');
    });
    it('a replacement shorter than the text leaves the file that much shorter', async () => {
      assert.ok((await f.run('replace_in_file', { path: 'src/a.js', search: '  return a + b;\n', replace: '' })).ok);
      assert.equal(fs.readFileSync(path.join(f.dir, 'src/a.js'), 'utf8'), 'function add(a, b) {\n}\n');
    });
    it('missing search text: names the closest line and that only whitespace differs', async () => {
      const r = await f.run('replace_in_file', { path: 'src/a.js', search: 'return a+b;', replace: 'x' });
      assert.ok(!r.ok);
      assert.match(r.output, /not found in src\/a\.js/);
      assert.match(r.output, /closest line is line 2: "  return a \+ b;" \(it differs only in spaces or indentation\)/);
    });
    it('missing search text with no similar line', async () => {
      const r = await f.run('replace_in_file', { path: 'src/a.js', search: 'zzzzqqqq', replace: 'x' });
      assert.match(r.output, /No similar line/);
    });
    it('ambiguous search text: says how many times and asks for context', async () => {
      const r = await f.run('replace_in_file', { path: 'src/b.js', search: 'x', replace: 'y' });
      assert.ok(!r.ok);
      assert.match(r.output, /appears 3 times in src\/b\.js \(lines 1, 2, 3\)\. Add more surrounding lines/);
    });
    it('replace_all', async () => {
      const r = await f.run('replace_in_file', { path: 'src/b.js', search: 'x', replace: 'y', replace_all: true });
      assert.match(r.output, /Replaced 3 occurrences/);
      assert.equal(fs.readFileSync(path.join(f.dir, 'src/b.js'), 'utf8'), 'y\ny\ny\n');
    });
    it('matches LF search text in a CRLF file, keeping CRLF', async () => {
      write(f.dir, 'w.txt', 'a\r\nb\r\nc\r\n');
      const r = await f.run('replace_in_file', { path: 'w.txt', search: 'a\nb\n', replace: 'A\nB\n' });
      assert.ok(r.ok, r.output);
      assert.equal(fs.readFileSync(path.join(f.dir, 'w.txt'), 'utf8'), 'A\r\nB\r\nc\r\n');
    });
    it('errors: missing file, empty search, outside the folder', async () => {
      assert.match((await f.run('replace_in_file', { path: 'nope.js', search: 'a', replace: 'b' })).output, /Use write_file to create it/);
      assert.match((await f.run('replace_in_file', { path: 'src/a.js', search: '', replace: 'b' })).output, /search text is empty/);
      assert.match((await f.run('replace_in_file', { path: '../../shared/spec.md', search: 'shared', replace: 'b' })).output, /Refused path/);
    });
  });

  describe('search_files', () => {
    it('plain text, case-insensitive by default, skipping node_modules', async () => {
      write(f.dir, 'src/c.js', 'const RETURN_VALUE = 1;\n');
      const r = await f.run('search_files', { query: 'return' });
      assert.equal(r.output, 'src/a.js:2: return a + b;\nsrc/c.js:1: const RETURN_VALUE = 1;');
    });
    it('regex and case-sensitive', async () => {
      const r = await f.run('search_files', { query: '^function \\w+', regex: true, case_sensitive: true });
      assert.equal(r.output, 'src/a.js:1: function add(a, b) {');
    });
    it('bounded results', async () => {
      f.ctx.limits = { maxSearchResults: 2 };
      const r = await f.run('search_files', { query: 'x', path: 'src' });
      assert.match(r.output, /\n\(\d+ more matches not shown/);
    });
    it('no matches, invalid regex, outside the workspace', async () => {
      assert.match((await f.run('search_files', { query: 'nothing-here' })).output, /No matches/);
      assert.match((await f.run('search_files', { query: '(', regex: true })).output, /regular expression is invalid/);
      assert.match((await f.run('search_files', { query: 'x', path: '/etc' })).output, /Refused path/);
    });
  });

  describe('agent tools', () => {
    it('report_progress calls onProgress', async () => {
      assert.ok((await f.run('report_progress', { message: 'half way' })).ok);
      assert.deepEqual(f.progress, ['half way']);
    });
    it('send_message delivers, and reports a failure to the model', async () => {
      assert.equal((await f.run('send_message', { to: 'bob', body: 'hi' })).output, 'Message sent to bob.');
      assert.deepEqual(f.messages, [['bob', 'hi']]);
      const r = await f.run('send_message', { to: 'nobody', body: 'hi' });
      assert.ok(!r.ok);
      assert.match(r.output, /could not be sent: There is no agent named "nobody"/);
    });
    it('complete and fail end the run', async () => {
      assert.deepEqual((await f.run('complete', { result: 'done' })).end, { kind: 'complete', result: 'done' });
      assert.deepEqual((await f.run('fail', { reason: 'no network' })).end, { kind: 'fail', reason: 'no network' });
    });
  });

  describe('registry', () => {
    it('unknown tool and invalid arguments are results, not throws', async () => {
      assert.match((await createToolRegistry().execute({ name: 'nope' } as unknown as ToolCall, f.ctx)).output, /no tool named "nope"/);
      assert.match((await f.run('read_file', { path: 'a', start_line: 0 })).output, /start_line/);
    });
    it('clips long output, keeping head and tail', async () => {
      write(f.dir, 'long.txt', `HEAD${'m'.repeat(50_000)}TAIL`);
      f.ctx.limits = { maxOutputChars: 1000, readMaxChars: 100_000 };
      const r = await f.run('read_file', { path: 'long.txt' });
      assert.ok(r.output.length <= 1000);
      assert.match(r.output, /HEAD/);
      assert.match(r.output, /TAIL/);
      assert.match(r.output, /characters cut/);
    });
    it('a cancelled run throws AppError cancelled', async () => {
      const ac = new AbortController();
      ac.abort();
      f.ctx.signal = ac.signal;
      await assert.rejects(f.run('list_files'), (e: unknown) => AppError.is(e, 'cancelled'));
    });
    it('subset keeps only the named tools', () => {
      assert.deepEqual(createToolRegistry().subset(['read_file', 'complete']).names(), ['read_file', 'complete']);
    });
  });
});
