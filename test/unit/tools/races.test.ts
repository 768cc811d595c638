/**
 * Findings 6 to 9: file tools that use what they checked. A separate process swaps a folder (or the file
 * itself) inside the agent's folder for a symlink to outside and back, as fast as it can, while each tool
 * runs 300 times; nothing outside may be read, written or deleted. A naive check-then-use control in the
 * same harness shows the swapper does win races. Then FIFOs and devices, replace-all growth, and a
 * catastrophic regex.
 */
import * as assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { RegexWorker } from '../../../src/core/tools/regexWorker';
import { readFileBelow, readHeadBelow, useProcFd, writeFileBelow } from '../../../src/core/workspace/safeFs';
import { fixture, write, type Fixture } from './helpers';

const ROUNDS = 300;
const SWAPPER = path.join(__dirname, 'fixtures', 'swapper.js');

async function startSwapper(target: string, outside: string, kind: 'dir' | 'file'): Promise<ChildProcess> {
  const child = spawn(process.execPath, [SWAPPER, JSON.stringify({ target, outside, kind })], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (b: Buffer) => b.toString().includes('ready') && resolve());
    child.on('error', reject);
    child.on('exit', code => reject(new Error(`swapper exited ${code}`)));
  });
  return child;
}

async function stopSwapper(child: ChildProcess): Promise<number> {
  let out = '';
  child.stdout!.on('data', (b: Buffer) => (out += b.toString()));
  const done = new Promise<void>(r => child.once('exit', () => r()));
  child.kill('SIGTERM');
  await done;
  return Number(/swaps (\d+)/.exec(out)?.[1] ?? 0);
}

/** Harness bookkeeping that may lose a race with the swapper itself. */
function quietly(fn: () => unknown): void {
  try {
    fn();
  } catch {
    // the swapper moved it meanwhile
  }
}

/** Yield so the swapper gets to run between attempts. */
const tick = () => new Promise(r => setImmediate(r));

describe('file tools under a concurrent symlink swapper (finding 6)', function () {
  this.timeout(120_000);
  let f: Fixture;
  let outside: string;
  let swapper: ChildProcess | undefined;
  const summary: string[] = [];

  beforeEach(() => {
    f = fixture();
    // Outside the workspace altogether: reads may reach the rest of the workspace, nothing may reach this.
    outside = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-outside-')));
  });
  afterEach(async () => {
    if (swapper) await stopSwapper(swapper);
    swapper = undefined;
    f.cleanup();
    fs.rmSync(outside, { recursive: true, force: true });
  });
  after(() => summary.forEach(s => console.log(`      ${s}`)));

  it('control: the previous check-then-write (by path) loses races to the swapper', async () => {
    write(f.dir, 'sub/keep.txt', 'x');
    write(outside, 'keep.txt', 'x');
    swapper = await startSwapper(path.join(f.dir, 'sub'), outside, 'dir');
    // Until the swapper wins once (usually within the first 300 tries), so the harness is known to bite.
    let escapes = 0;
    let tries = 0;
    while (tries < ROUNDS || (escapes === 0 && tries < 10 * ROUNDS)) {
      tries++;
      try {
        // What write_file did before: check the path, then use it by name (with the same awaits).
        const abs = f.ctx.sandbox.resolveWrite('sub/w.txt');
        await fs.promises.mkdir(path.dirname(abs), { recursive: true });
        await fs.promises.writeFile(abs, 'naive');
      } catch {
        // refused or raced into ENOENT: not an escape
      }
      if (fs.existsSync(path.join(outside, 'w.txt'))) {
        escapes++;
        fs.rmSync(path.join(outside, 'w.txt'));
      }
      await tick();
    }
    summary.push(`control, the previous check-then-write by path: ${escapes} escapes in ${tries} tries (the swapper is effective)`);
    assert.ok(escapes > 0, 'the swapper must win some races against a naive check, or this harness proves nothing');
  });

  const cases: Array<{ name: string; kind: 'dir' | 'file'; setup(): void; attempt(): Promise<boolean> }> = [
    {
      name: 'write_file (folder swapped)',
      kind: 'dir',
      setup: () => write(f.dir, 'sub/keep.txt', 'x'),
      attempt: async () => {
        await f.run('write_file', { path: 'sub/w.txt', content: 'agent' });
        const hit = fs.existsSync(path.join(outside, 'w.txt'));
        if (hit) fs.rmSync(path.join(outside, 'w.txt'));
        return hit;
      },
    },
    {
      name: 'write_file (file swapped)',
      kind: 'file',
      setup: () => {
        write(f.dir, 'target.txt', 'inside');
        write(outside, 'victim.txt', 'outside');
      },
      attempt: async () => {
        await f.run('write_file', { path: 'target.txt', content: 'agent' });
        return fs.readFileSync(path.join(outside, 'victim.txt'), 'utf8') !== 'outside';
      },
    },
    {
      name: 'delete_file (folder swapped)',
      kind: 'dir',
      setup: () => write(f.dir, 'sub/d.txt', 'x'),
      attempt: async () => {
        write(outside, 'd.txt', 'keep me');
        quietly(() => fs.writeFileSync(path.join(f.dir, 'sub.real', 'd.txt'), 'x'));
        await f.run('delete_file', { path: 'sub/d.txt' });
        return !fs.existsSync(path.join(outside, 'd.txt'));
      },
    },
    {
      name: 'read_file (folder swapped)',
      kind: 'dir',
      setup: () => {
        write(f.dir, 'sub/s.txt', 'inside');
        write(outside, 's.txt', 'OUTSIDE-SECRET');
      },
      attempt: async () => (await f.run('read_file', { path: 'sub/s.txt' })).output.includes('OUTSIDE-SECRET'),
    },
    {
      name: 'read_file (file swapped)',
      kind: 'file',
      setup: () => {
        write(f.dir, 'target.txt', 'inside');
        write(outside, 'victim.txt', 'OUTSIDE-SECRET');
      },
      attempt: async () => (await f.run('read_file', { path: 'target.txt' })).output.includes('OUTSIDE-SECRET'),
    },
    {
      name: 'replace_in_file (folder swapped)',
      kind: 'dir',
      setup: () => {
        write(f.dir, 'sub/r.txt', 'A\n');
        write(outside, 'r.txt', 'A\n');
      },
      attempt: async () => {
        await f.run('replace_in_file', { path: 'sub/r.txt', search: 'A', replace: 'B' });
        // Put the inside file back for the next round, wherever the swapper has it now.
        quietly(() => fs.writeFileSync(path.join(f.dir, 'sub.real', 'r.txt'), 'A\n'));
        quietly(() => !fs.lstatSync(path.join(f.dir, 'sub')).isSymbolicLink() && fs.writeFileSync(path.join(f.dir, 'sub', 'r.txt'), 'A\n'));
        return fs.readFileSync(path.join(outside, 'r.txt'), 'utf8') !== 'A\n';
      },
    },
    {
      name: 'search_files (folder swapped)',
      kind: 'dir',
      setup: () => {
        write(f.dir, 'sub/q.txt', 'inside only');
        write(outside, 'q.txt', 'OUTSIDE-SECRET');
      },
      attempt: async () => /:\d+: OUTSIDE-SECRET/.test((await f.run('search_files', { query: 'OUTSIDE-SECRET', path: '.' })).output),
    },
    {
      name: 'list_files (folder swapped)',
      kind: 'dir',
      setup: () => {
        write(f.dir, 'sub/l.txt', 'x');
        write(outside, 'outside-only-name.txt', 'x');
      },
      attempt: async () => (await f.run('list_files', { path: '.', recursive: true })).output.includes('outside-only-name'),
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${ROUNDS} attempts, 0 escapes`, async () => {
      c.setup();
      const target = c.kind === 'dir' ? path.join(f.dir, 'sub') : path.join(f.dir, 'target.txt');
      swapper = await startSwapper(target, c.kind === 'dir' ? outside : path.join(outside, 'victim.txt'), c.kind);
      let escapes = 0;
      for (let i = 0; i < ROUNDS; i++) {
        if (await c.attempt()) escapes++;
        await tick();
      }
      const swaps = await stopSwapper(swapper);
      swapper = undefined;
      summary.push(`${c.name}: ${ROUNDS} attempts during ${swaps} swaps, ${escapes} escapes`);
      assert.equal(escapes, 0);
      assert.ok(swaps >= 200, `the swapper ran alongside (${swaps} swaps)`);
    });
  }
});

describe('file tools: only regular files, caps on the descriptor (findings 8 and 9)', function () {
  this.timeout(30_000);
  let f: Fixture;
  beforeEach(() => (f = fixture()));
  afterEach(() => f.cleanup());

  it('a FIFO is refused in under 100 ms by every file tool, and four of them starve nothing', async function () {
    if (process.platform === 'win32') this.skip();
    for (let i = 0; i < 4; i++) assert.equal(spawnSync('mkfifo', [path.join(f.dir, `pipe${i}`)]).status, 0);
    write(f.dir, 'normal.txt', 'hello\n');
    const times: number[] = [];
    for (const [tool, args] of [
      ['read_file', { path: 'pipe0' }],
      ['read_file', { path: 'pipe1' }],
      ['read_file', { path: 'pipe2' }],
      ['read_file', { path: 'pipe3' }],
      ['write_file', { path: 'pipe0', content: 'x' }],
      ['replace_in_file', { path: 'pipe1', search: 'a', replace: 'b' }],
      ['search_files', { query: 'hello', path: '.' }],
    ] as const) {
      const t0 = Date.now();
      const r = await f.run(tool, args);
      times.push(Date.now() - t0);
      if (tool !== 'search_files') assert.match(r.output, /FIFO|regular files only/, `${tool}: ${r.output}`);
      else assert.match(r.output, /normal\.txt:1: hello/);
    }
    const t0 = Date.now();
    assert.match((await f.run('read_file', { path: 'normal.txt' })).output, /hello/);
    const after = Date.now() - t0;
    console.log(`      FIFO refusals: ${times.length}, slowest ${Math.max(...times)} ms; a normal read afterwards: ${after} ms`);
    assert.ok(Math.max(...times) < 100, `took ${times.join(', ')} ms`);
    assert.ok(after < 100);
  });

  it('a device node is refused in under 100 ms, on the descriptor as well as by lstat', async function () {
    if (process.platform === 'win32') this.skip();
    // In the workspace, if this user may make one (root); the descriptor check on /dev/zero itself in any case.
    const made = spawnSync('mknod', [path.join(f.dir, 'zero'), 'c', '1', '5']).status === 0;
    if (made) {
      const t0 = Date.now();
      const r = await f.run('read_file', { path: 'zero' });
      const ms = Date.now() - t0;
      console.log(`      device node in the agent folder: refused in ${ms} ms (${r.output.slice(0, 60)}…)`);
      assert.match(r.output, /a device/);
      assert.ok(ms < 100);
    } else {
      console.log('      (mknod needs root here; checking the descriptor-level refusal on /dev/zero only)');
    }
    const t0 = Date.now();
    assert.throws(() => readFileBelow('/dev', '/dev/zero', 1024), (e: unknown) => AppError.is(e) && /a device/.test(e.message));
    assert.ok(Date.now() - t0 < 100);
    assert.throws(() => writeFileBelow('/dev', '/dev/null', Buffer.from('x')), (e: unknown) => AppError.is(e) && /a device/.test(e.message));
  });

  it('replace-all is capped like write_file: a result over the limit is refused and the file left as it was', async () => {
    const before = 'a\n'.repeat(200_000); // 400 KB
    write(f.dir, 'big.txt', before);
    const r = await f.run('replace_in_file', { path: 'big.txt', search: 'a', replace: 'x'.repeat(100), replace_all: true });
    assert.ok(!r.ok);
    assert.match(r.output, /would be 20200000 bytes, over the 1048576-byte limit/);
    assert.equal(fs.readFileSync(path.join(f.dir, 'big.txt'), 'utf8'), before);
    console.log(`      replace-all of 200,000 matches x100: refused, file size still ${before.length} bytes (limit ${1024 * 1024})`);
    const ok = await f.run('replace_in_file', { path: 'big.txt', search: 'a', replace: 'b', replace_all: true });
    assert.ok(ok.ok, ok.output);
  });

  it('writes refuse a file with several hard links, checked on the descriptor', () => {
    write(f.dir, 'one.txt', 'x');
    fs.linkSync(path.join(f.dir, 'one.txt'), path.join(f.dir, 'two.txt'));
    assert.throws(() => writeFileBelow(f.dir, path.join(f.dir, 'one.txt'), Buffer.from('y')), /several hard links/);
    assert.equal(fs.readFileSync(path.join(f.dir, 'two.txt'), 'utf8'), 'x');
  });

  it('delete_file on a symlink deletes the link, never its target', async () => {
    write(f.dir, 'real.txt', 'keep');
    fs.symlinkSync(path.join(f.dir, 'real.txt'), path.join(f.dir, 'link.txt'));
    write(f.ws, 'shared/other.txt', 'keep too');
    fs.symlinkSync(path.join(f.ws, 'shared/other.txt'), path.join(f.dir, 'out-link.txt'));
    assert.ok((await f.run('delete_file', { path: 'link.txt' })).ok);
    assert.ok((await f.run('delete_file', { path: 'out-link.txt' })).ok);
    assert.equal(fs.readFileSync(path.join(f.dir, 'real.txt'), 'utf8'), 'keep');
    assert.equal(fs.readFileSync(path.join(f.ws, 'shared/other.txt'), 'utf8'), 'keep too');
    assert.ok(!fs.existsSync(path.join(f.dir, 'link.txt')) && !fs.existsSync(path.join(f.dir, 'out-link.txt')));
  });

  it('task attachments are read the same way: the first 64 KB of a regular file, never a FIFO', function () {
    if (process.platform === 'win32') this.skip();
    write(f.ws, 'shared/big.txt', 'y'.repeat(200_000));
    assert.equal(readHeadBelow(f.ws, path.join(f.ws, 'shared/big.txt'), 64 * 1024)!.length, 64 * 1024);
    spawnSync('mkfifo', [path.join(f.ws, 'shared/pipe')]);
    const t0 = Date.now();
    assert.throws(() => readHeadBelow(f.ws, path.join(f.ws, 'shared/pipe'), 1024), /FIFO/);
    assert.ok(Date.now() - t0 < 100);
    assert.equal(readHeadBelow(f.ws, path.join(f.ws, 'shared/missing'), 1024), undefined);
  });

  it('reads are capped on the descriptor even if the file grows after the check', () => {
    write(f.dir, 'grow.txt', 'x'.repeat(100));
    assert.deepEqual(readFileBelow(f.dir, path.join(f.dir, 'grow.txt'), 50).kind, 'too_large');
  });

  it('test detection reads its marker files the same way: a FIFO package.json does not hang it', async function () {
    if (process.platform === 'win32') this.skip();
    spawnSync('mkfifo', [path.join(f.dir, 'package.json')]);
    const t0 = Date.now();
    const r = await f.run('run_tests');
    assert.match(r.output, /No test command was found/);
    assert.ok(Date.now() - t0 < 100);
  });
});

describe('search_files regex time limit (finding 7)', function () {
  this.timeout(30_000);
  let f: Fixture;
  beforeEach(() => (f = fixture()));
  afterEach(() => f.cleanup());

  it('a catastrophic regex returns within its limit with a clear error, and the event loop keeps ticking', async () => {
    // A 2,000-character line a…ab: each line is tested on its first 2,000 characters, the b included.
    write(f.dir, 'evil.txt', `${'a'.repeat(1999)}b\n`);
    f.ctx.limits = { regexTimeoutMs: 1000 };
    let ticks = 0;
    let last = Date.now();
    let maxGap = 0;
    const timer = setInterval(() => {
      const now = Date.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      ticks++;
    }, 10);
    const t0 = Date.now();
    const r = await f.run('search_files', { query: '(a+)+$', regex: true });
    const ms = Date.now() - t0;
    clearInterval(timer);
    console.log(`      (a+)+$ on 2,000 a's + b: stopped after ${ms} ms (limit 1000 ms); event loop ticked ${ticks} times, longest gap ${maxGap} ms`);
    assert.ok(!r.ok);
    assert.match(r.output, /took longer than 1\.0 s and was stopped.*backtracks catastrophically/);
    assert.ok(ms < 2500, `took ${ms} ms`);
    assert.ok(maxGap < 250, `the event loop stalled for ${maxGap} ms`);
    assert.ok(ticks >= 30);
  });

  it('cancel stops the run at once and terminates the worker', async () => {
    const ac = new AbortController();
    const w = new RegexWorker('(a+)+$', '', 60_000, ac.signal);
    const matching = w.match(`${'a'.repeat(1999)}b`, 10);
    setTimeout(() => ac.abort(), 200);
    const t0 = Date.now();
    await assert.rejects(matching, (e: unknown) => AppError.is(e, 'cancelled'));
    await w.exited;
    assert.ok(Date.now() - t0 < 1000, `cancel took ${Date.now() - t0} ms`);

    write(f.dir, 'evil.txt', `${'a'.repeat(1999)}b\n`);
    const run = new AbortController();
    f.ctx.signal = run.signal;
    setTimeout(() => run.abort(), 200);
    const t1 = Date.now();
    await assert.rejects(f.run('search_files', { query: '(a+)+$', regex: true }), (e: unknown) => AppError.is(e, 'cancelled'));
    assert.ok(Date.now() - t1 < 1000);
  });

  it('ordinary regexes still work and are fast', async () => {
    write(f.dir, 'src/a.js', 'function add(a, b) {\n  return a + b;\n}\n');
    const r = await f.run('search_files', { query: '^function \\w+', regex: true, case_sensitive: true });
    assert.equal(r.output, 'src/a.js:1: function add(a, b) {');
  });
});

describe('file tools: the portable fallback (no /proc/self/fd, as on macOS)', () => {
  let f: Fixture;
  beforeEach(() => {
    f = fixture();
    useProcFd(false);
  });
  afterEach(() => {
    useProcFd(process.platform === 'linux');
    f.cleanup();
  });

  it('reads, writes, edits, lists and deletes, and refuses links, FIFOs and hard links the same way', async () => {
    assert.ok((await f.run('write_file', { path: 'a/b/c.txt', content: 'one\n' })).ok);
    assert.match((await f.run('read_file', { path: 'a/b/c.txt' })).output, /one/);
    assert.ok((await f.run('replace_in_file', { path: 'a/b/c.txt', search: 'one', replace: 'two' })).ok);
    assert.match((await f.run('search_files', { query: 'two' })).output, /a\/b\/c\.txt:1: two/);
    assert.match((await f.run('list_files', { recursive: true })).output, /a\/b\/c\.txt/);
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-outside-'));
    try {
      fs.writeFileSync(path.join(outside, 'x.txt'), 'outside');
      fs.symlinkSync(outside, path.join(f.dir, 'link'));
      assert.match((await f.run('write_file', { path: 'link/x.txt', content: 'y' })).output, /Refused path/);
      if (process.platform !== 'win32') {
        spawnSync('mkfifo', [path.join(f.dir, 'p')]);
        assert.match((await f.run('read_file', { path: 'p' })).output, /FIFO/);
      }
      assert.ok((await f.run('delete_file', { path: 'link' })).ok);
      assert.equal(fs.readFileSync(path.join(outside, 'x.txt'), 'utf8'), 'outside');
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
    assert.ok((await f.run('delete_file', { path: 'a/b/c.txt' })).ok);
  });
});
