/**
 * Commands in the OS sandbox (findings 2 and 3, and the policy around them). These run bubblewrap for
 * real on Linux; without it they fail and say what to install (see ./setup.ts). Pure argument and profile
 * builders are checked as text on every platform.
 */
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  BwrapSandbox,
  bwrapArgs,
  commandEnv,
  commandSetup,
  detectSandbox,
  findBwrap,
  homeToolchains,
  noSandbox,
  sandboxExecArgs,
  sandboxExecProfile,
  type CommandSetup,
} from '../../../src/core/sandbox';
import { authorizeCommand, runCommand, type CommandOptions } from '../../../src/core/tools';
import { fixture, write, type Fixture } from '../tools/helpers';
import { INSTALL, sandboxSetup } from './setup';

const LINUX = process.platform === 'linux';

function sleep(ms: number): Promise<void> {
  return new Promise(r => setTimeout(r, ms));
}

/** Host pids whose command line contains `marker` (zombies excluded: they are already dead). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const d of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      if (!fs.readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(marker)) continue;
      if (/^\d+ \(.*\) [ZX] /.test(fs.readFileSync(`/proc/${d}/stat`, 'utf8'))) continue;
      pids.push(Number(d));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

async function waitUntil(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await sleep(25);
  }
  return cond();
}

/**
 * A shell line that starts a `setsid` daemon whose command line holds `marker` (assembled at run time,
 * so only the daemon carries it, not the shell that starts it), then does `then`.
 */
function daemonLine(marker: string, then: string): string {
  const half = Math.floor(marker.length / 2);
  return `m1=${marker.slice(0, half)}; setsid sh -c 'while :; do sleep 1; done' "\${m1}${marker.slice(half)}" </dev/null >/dev/null 2>&1 & ${then}`;
}

describe('command sandbox: bubblewrap for real', function () {
  this.timeout(60_000);
  let setup: CommandSetup;
  let f: Fixture;
  const daemons: string[] = [];

  before(async function () {
    if (!LINUX) {
      console.log(`      (skipped: bubblewrap is Linux only; this is ${process.platform})`);
      this.skip();
    }
    if (!findBwrap()) throw new Error(`bubblewrap (bwrap) is not installed. ${INSTALL}`);
    setup = await sandboxSetup();
    assert.equal(setup.sandbox.kind, 'bwrap');
  });
  beforeEach(() => {
    f = fixture();
    f.ctx.commands = setup;
  });
  afterEach(() => {
    f.cleanup();
    for (const m of daemons.splice(0)) for (const pid of processesWith(m)) process.kill(pid, 'SIGKILL');
  });

  const opts = (over: Partial<CommandOptions> = {}): CommandOptions => ({ cwd: f.dir, sandbox: setup.sandbox, readable: [f.ws], killGraceMs: 300, ...over });

  it('the probe found bubblewrap working and caches the answer', async () => {
    const a = detectSandbox({ network: false });
    assert.equal(a, detectSandbox({ network: false }), 'one probe per process');
    const r = await a;
    assert.ok(r.available, JSON.stringify(r));
    console.log(`      bubblewrap: ${r.available ? r.path : ''}, probe ok`);
  });

  it('writes land only in the agent folder and private temp folders; everything else is read-only or private', async () => {
    const outsideWs = path.join(f.ws, 'shared', 'x.txt');
    fs.mkdirSync(path.dirname(outsideWs), { recursive: true });
    const hostTmp = path.join(os.tmpdir(), `ai2ai-escape-${process.pid}.txt`);
    const homeFile = path.join(os.homedir(), `.ai2ai-escape-${process.pid}`);
    const r = await runCommand(
      [
        'echo in > ok.txt',
        `echo x > ../parent.txt`,
        `echo x > '${outsideWs}'`,
        `echo x > '${hostTmp}'`,
        `echo x > '${homeFile}'`,
        'echo x > /etc/ai2ai-x',
        'echo t > /tmp/t.txt && cat /tmp/t.txt',
        'true',
      ].join('; '),
      opts(),
    );
    assert.equal(r.exitCode, 0, r.output);
    assert.equal(fs.readFileSync(path.join(f.dir, 'ok.txt'), 'utf8'), 'in\n');
    const escaped = [path.join(path.dirname(f.dir), 'parent.txt'), outsideWs, hostTmp, homeFile, '/etc/ai2ai-x'].filter(p => fs.existsSync(p));
    console.log(`      sandboxed writes outside the agent folder: 5 attempted, ${escaped.length} reached the host`);
    assert.deepEqual(escaped, []);
    assert.match(r.output, /Read-only file system/);
    assert.match(r.output, /^t$/m, 'the private /tmp is writable');
  });

  it('a loopback connection fails with the network off, and works when the setting allows it', async () => {
    let connections = 0;
    const server = net.createServer(s => {
      connections++;
      s.on('error', () => undefined);
      s.end('hello\n');
    });
    await new Promise<void>(res => server.listen(0, '127.0.0.1', res));
    const port = (server.address() as net.AddressInfo).port;
    const probe = `node -e "const s=require('net').connect(${port},'127.0.0.1');s.on('connect',()=>{console.log('CONNECTED');process.exit(0)});s.on('error',e=>{console.log('ERROR '+e.code);process.exit(3)})"`;
    try {
      const off = await runCommand(probe, opts());
      assert.equal(off.exitCode, 3, off.output);
      assert.match(off.output, /ERROR (ECONNREFUSED|ENETUNREACH)/);
      assert.equal(connections, 0);
      const on = await runCommand(probe, opts({ sandbox: (await sandboxSetup({ network: true })).sandbox }));
      assert.match(on.output, /CONNECTED/, 'the same probe connects when the network is allowed, so the test tests something');
      console.log(`      loopback with network off: ${off.output.trim()}; with network on: ${on.output.trim()}`);
    } finally {
      server.close();
    }
  });

  it('finding 3 reproduced: without a sandbox a setsid daemon outlives its command', async () => {
    const marker = `ai2ai-daemon-bare-${process.pid}-${Date.now()}`;
    daemons.push(marker);
    const r = await runCommand(daemonLine(marker, 'sleep 0.3'), { cwd: f.dir, killGraceMs: 300 });
    assert.equal(r.exitCode, 0, r.output);
    await sleep(300);
    assert.ok(processesWith(marker).length > 0, 'the unsandboxed daemon survives (the old behaviour, and still that of the "none" sandbox)');
  });

  for (const how of ['exits', 'cancel', 'timeout'] as const) {
    it(`a setsid daemon is gone when the command ${how === 'exits' ? 'exits' : how === 'cancel' ? 'is cancelled' : 'times out'}`, async () => {
      const marker = `ai2ai-daemon-${how}-${process.pid}-${Date.now()}`;
      daemons.push(marker);
      const ac = new AbortController();
      const line = daemonLine(marker, how === 'exits' ? 'sleep 0.5' : 'sleep 1000');
      const running = runCommand(line, opts({ signal: ac.signal, timeoutMs: how === 'timeout' ? 1500 : 30_000 }));
      assert.ok(await waitUntil(() => processesWith(marker).length > 0, 5000), 'the daemon started');
      if (how === 'cancel') ac.abort();
      const r = await running;
      if (how === 'cancel') assert.equal(r.cancelled, true);
      if (how === 'timeout') assert.equal(r.timedOut, true);
      if (how === 'exits') assert.equal(r.exitCode, 0, r.output);
      const gone = await waitUntil(() => processesWith(marker).length === 0, 3000);
      console.log(`      setsid daemon after the command ${how}: ${gone ? 'gone' : `still running (${processesWith(marker).join(', ')})`}`);
      assert.ok(gone);
    });
  }

  it('the environment is scrubbed and HOME is private', async () => {
    const saved = { ...process.env };
    process.env.AI2AI_TEST_TOKEN = 'tok-123';
    process.env.OPENAI_API_KEY = 'sk-test';
    process.env.NODE_OPTIONS = '--require /nonexistent-ai2ai.js';
    process.env.BASH_ENV = '/nonexistent-ai2ai.sh';
    try {
      const r = await runCommand('env; echo "HOME=$HOME"; ls -A "$HOME" | wc -l; echo made > "$HOME/x" && cat "$HOME/x"', opts());
      assert.equal(r.exitCode, 0, r.output);
      for (const leaked of ['tok-123', 'sk-test', 'NODE_OPTIONS', 'BASH_ENV']) assert.ok(!r.output.includes(leaked), `${leaked} leaked: ${r.output}`);
      assert.match(r.output, /^PATH=/m);
      assert.match(r.output, /^made$/m, 'HOME is writable, privately');
      assert.ok(!fs.existsSync(path.join(os.homedir(), 'x')) || fs.readFileSync(path.join(os.homedir(), 'x'), 'utf8') !== 'made\n');
    } finally {
      process.env = saved;
    }
  });

  it("the extension's storage and secrets under home are invisible; toolchains and the workspace are readable", async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-home-'));
    try {
      write(home, '.ssh/id_ed25519', 'PRIVATE KEY');
      write(home, '.aws/credentials', 'aws secret');
      write(home, '.netrc', 'machine x password p');
      write(home, '.config/Code/User/globalStorage/ai2ai.ai2ai/ai2ai.sqlite', 'DATABASE');
      write(home, 'notes.txt', 'private notes');
      write(home, '.nvm/versions/node/v20/bin/tool', '#!/bin/sh\necho toolchain ok\n');
      fs.chmodSync(path.join(home, '.nvm/versions/node/v20/bin/tool'), 0o755);
      // The storage may also sit where a readable folder shows it: it is hidden anyway.
      const storage = path.join(f.ws, '.storage');
      write(storage, 'ai2ai.sqlite', 'DATABASE');
      write(f.ws, 'shared/spec.md', 'spec');
      const sandbox = new BwrapSandbox({ bwrap: findBwrap()!, network: false, home, hide: [storage, path.join(home, '.config/Code/User/globalStorage/ai2ai.ai2ai')] });
      const env = { ...commandEnv(process.env), PATH: `${path.join(home, '.nvm/versions/node/v20/bin')}:/usr/bin:/bin` };
      const reads = [
        `${home}/.ssh/id_ed25519`,
        `${home}/.aws/credentials`,
        `${home}/.netrc`,
        `${home}/.config/Code/User/globalStorage/ai2ai.ai2ai/ai2ai.sqlite`,
        `${home}/notes.txt`,
        `${storage}/ai2ai.sqlite`,
      ];
      const line = `${reads.map(p => `cat '${p}' 2>/dev/null;`).join(' ')} echo ---; tool; cat '${f.ws}/shared/spec.md'`;
      const r = await runCommand(line, { ...opts({ sandbox }), env });
      const [leaked, rest] = r.output.split('---');
      console.log(`      secrets and storage read from inside the sandbox: ${reads.length} attempted, ${leaked!.trim() ? 'some' : 0} visible`);
      assert.equal(leaked!.trim(), '', `visible inside: ${leaked}`);
      assert.match(rest!, /toolchain ok/);
      assert.match(rest!, /spec/);

      // A workspace that is the home folder itself shows home, but never its secrets.
      const r2 = await runCommand(`cat '${home}/notes.txt'; cat '${home}/.ssh/id_ed25519' 2>/dev/null; cat '${home}/.aws/credentials' 2>/dev/null; true`, {
        ...opts({ sandbox }),
        readable: [home, f.ws],
        env,
      });
      assert.match(r2.output, /private notes/);
      assert.doesNotMatch(r2.output, /PRIVATE KEY|aws secret/);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  it("finding 2: an allowlisted test runner runs the agent's script, but only inside the sandbox", async () => {
    const target = path.join(f.ws, 'bob-owned.txt');
    write(f.dir, 'package.json', JSON.stringify({ scripts: { test: `node -e "require('fs').writeFileSync('${target}', 'owned'); console.log('# pass 1')"` } }));
    f.ctx.allowlist = ['npm test'];
    const r = await f.run('run_tests');
    assert.deepEqual(f.approvals, [], 'allowlisted: ran without asking');
    assert.ok(!r.ok);
    assert.match(r.output, /EROFS|read-only/i);
    assert.equal(fs.existsSync(target), false, 'the write outside the folder failed');
  });

  it('the private temp folders are removed after each command', async () => {
    const before = fs.readdirSync(os.tmpdir()).filter(n => n.startsWith('ai2ai-cmd-')).length;
    await runCommand('echo x > /tmp/y; echo x > "$HOME/z"', opts());
    const after = fs.readdirSync(os.tmpdir()).filter(n => n.startsWith('ai2ai-cmd-')).length;
    assert.ok(after <= before, `${after - before} private folders left behind`);
  });
});

describe('command sandbox: policy', () => {
  let f: Fixture;
  beforeEach(() => (f = fixture({ allowlist: ['npm test', 'echo'] })));
  afterEach(() => f.cleanup());

  const unavailable = { available: false as const, reason: 'bubblewrap (bwrap) is not installed' };

  it('auto without a sandbox: said once, and every command asks, allowlisted and preapproved ones too', async () => {
    const setup = await commandSetup({ mode: 'auto', network: false, availability: unavailable });
    assert.equal(setup.sandbox.confined, false);
    assert.match(setup.notice ?? '', /every command an agent wants to run will ask first.*Install bubblewrap/);
    f.ctx.commands = setup;
    const attempts = ['echo hi', 'npm test'];
    for (const c of attempts) assert.equal((await authorizeCommand(c, f.ctx)).allowed, false, c);
    assert.equal((await authorizeCommand('make', f.ctx, { preapproved: true })).allowed, false);
    assert.deepEqual(f.approvals, [...attempts, 'make'], 'each one was put to the user');
    console.log(`      without a sandbox: ${f.approvals.length} commands, ${f.approvals.length} asked`);
  });

  it('no setup at all behaves like auto without a sandbox', async () => {
    delete f.ctx.commands;
    await authorizeCommand('echo hi', f.ctx);
    assert.deepEqual(f.approvals, ['echo hi']);
  });

  it('required without a sandbox: nothing runs and nobody is asked; the message says what to install', async () => {
    f.ctx.commands = await commandSetup({ mode: 'required', network: false, availability: unavailable });
    const a = await authorizeCommand('echo hi', f.ctx);
    assert.ok(!a.allowed && /required.*Install bubblewrap/.test(a.message));
    const r = await f.run('run_command', { command: 'echo hi' });
    assert.ok(!r.ok);
    assert.deepEqual(f.approvals, []);
  });

  it('off: the allowlist alone, with a warning to show', async () => {
    const setup = await commandSetup({ mode: 'off', network: false });
    assert.equal(setup.sandbox, noSandbox);
    assert.match(setup.notice ?? '', /without an OS sandbox/);
    f.ctx.commands = setup;
    assert.deepEqual(await authorizeCommand('echo hi', f.ctx), { allowed: true, how: 'allowlist' });
  });

  it('the approval request says why it asks and where it would run', async () => {
    f.ctx.commands = { mode: 'auto', sandbox: new BwrapSandbox({ bwrap: '/usr/bin/bwrap', network: false }) };
    let seen: unknown;
    f.ctx.approve = async (_c, req) => {
      seen = req;
      return false;
    };
    await authorizeCommand('npm test --prefix ../bob', f.ctx);
    assert.match(JSON.stringify(seen), /--prefix.*bubblewrap sandbox/);
  });
});

describe('sandbox arguments (as text, any platform)', () => {
  const home = '/home/u';
  const dirs = new Set([home, `${home}/.nvm`, `${home}/.cargo`, `${home}/.ssh`, `${home}/.config`, `${home}/ws`, `${home}/ws/agents/alice`, '/store', '/run']);
  const files = new Set([`${home}/.netrc`, `${home}/.cargo/credentials.toml`]);
  const kind = (p: string) => (dirs.has(p) ? ('dir' as const) : files.has(p) ? ('file' as const) : undefined);

  it('bwrap: read-only root, private tmp and home, toolchains back, workspace read-only, folder writable, secrets hidden, no network', () => {
    const a = bwrapArgs(
      { command: 'npm test', cwd: `${home}/ws/agents/alice`, env: { PATH: `${home}/.cargo/bin:/usr/bin` }, readable: [`${home}/ws`] },
      { bwrap: 'bwrap', network: false, home, hide: ['/store'], tmp: '/t' },
      kind,
    ).join(' ');
    assert.match(a, /^--die-with-parent --new-session --unshare-all --cap-drop ALL --ro-bind \/ \/ --dev \/dev --proc \/proc --bind \/t\/tmp \/tmp /);
    assert.doesNotMatch(a, /--share-net/);
    assert.match(a, /--bind \/t\/home \/home\/u --ro-bind \/home\/u\/.cargo \/home\/u\/.cargo --ro-bind \/home\/u\/.nvm \/home\/u\/.nvm --ro-bind \/home\/u\/ws \/home\/u\/ws --bind \/home\/u\/ws\/agents\/alice \/home\/u\/ws\/agents\/alice/);
    assert.match(a, /--ro-bind \/dev\/null \/home\/u\/.cargo\/credentials.toml/, 'a secret inside a toolchain folder is hidden again');
    assert.match(a, /--tmpfs \/store/);
    assert.ok(a.indexOf('--tmpfs /store') > a.indexOf('--bind /home/u/ws/agents/alice'), 'hiding comes after every bind, so it wins');
    assert.match(a, /--chdir \/home\/u\/ws\/agents\/alice -- \/bin\/sh -c npm test$/);
    // The workspace folder brought .ssh-less home parts back; secrets under it would be hidden too.
    const withHome = bwrapArgs({ command: 'x', cwd: `${home}/ws/agents/alice`, env: {}, readable: [home] }, { bwrap: 'bwrap', network: true, home, tmp: '/t' }, kind).join(' ');
    assert.match(withHome, /--share-net/);
    assert.match(withHome, /--tmpfs \/home\/u\/.ssh/);
    assert.match(withHome, /--tmpfs \/home\/u\/.config/);
    assert.match(withHome, /--ro-bind \/dev\/null \/home\/u\/.netrc/);
  });

  it('toolchains: known folders, env-named ones and PATH entries under home (parent of bin/shims)', () => {
    const d = new Set([...dirs, `${home}/.pyenv`, `${home}/tools/x`]);
    const k = (p: string) => (d.has(p) ? ('dir' as const) : undefined);
    assert.deepEqual(homeToolchains(home, { PATH: `${home}/.pyenv/shims:/usr/bin:${home}/tools/x/bin` }, k), [`${home}/.cargo`, `${home}/.nvm`, `${home}/.pyenv`, `${home}/tools/x`]);
  });

  it('sandbox-exec: deny by default, writes only in the folder and temp, hidden paths as parameters, network per setting', () => {
    const { profile, params } = sandboxExecProfile({ cwd: '/Users/u/ws/a', tmp: '/private/tmp/x', network: false, hide: ['/Users/u/.ssh', '/Users/u/Library/Application Support/Code'] });
    assert.match(profile, /^\(version 1\)\n\(deny default\)\n/);
    assert.match(profile, /\(allow file-write\* \(subpath \(param "AGENT_DIR"\)\) \(subpath \(param "TMP_DIR"\)\)/);
    assert.match(profile, /\(deny file-read\* file-write\* \(subpath \(param "HIDE_1"\)\)\)/);
    assert.match(profile, /\(deny network\*\)\n$/);
    assert.ok(profile.indexOf('(allow file-read*)') < profile.indexOf('HIDE_0'), 'the denials come after the blanket read allowance');
    assert.ok(!profile.includes('/Users/u'), 'no path is spliced into the profile text');
    assert.deepEqual(params, { AGENT_DIR: '/Users/u/ws/a', TMP_DIR: '/private/tmp/x', HIDE_0: '/Users/u/.ssh', HIDE_1: '/Users/u/Library/Application Support/Code' });
    const args = sandboxExecArgs(profile, params, 'npm test');
    assert.deepEqual(args.slice(-3), ['/bin/sh', '-c', 'npm test']);
    assert.ok(args.includes('HIDE_1=/Users/u/Library/Application Support/Code'));
    assert.match(sandboxExecProfile({ cwd: '/a', tmp: '/t', network: true, hide: [] }).profile, /\(allow network\*\)/);
  });

  it('the scrubbed environment keeps toolchain paths and drops secrets and code-loading variables', () => {
    const env = commandEnv({ PATH: '/usr/bin', HOME: '/home/u', LANG: 'C.UTF-8', GITHUB_TOKEN: 'x', AWS_SECRET_ACCESS_KEY: 'y', NODE_OPTIONS: '-r x', BASH_ENV: 'x', 'BASH_FUNC_npm%%': '() { evil; }', https_proxy: 'http://u:p@proxy' });
    assert.deepEqual(Object.keys(env).sort(), ['CI', 'HOME', 'LANG', 'PATH']);
    assert.equal(commandEnv({ https_proxy: 'http://proxy' }, { network: true }).https_proxy, 'http://proxy');
  });
});
