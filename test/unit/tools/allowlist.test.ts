/**
 * Findings 1 and 2 of the attacker's review: the allowlist matcher read quoting differently from sh, and
 * allowlisted runners took flags that load other code. Every attempt below is run through the matcher;
 * none may run without asking. The quoting attacks are also run through the real `sh` (with stand-ins
 * for npm, node, pytest… that only record their arguments) to show they are real: sh would have run the
 * payload. Then a fuzz of generated command lines: whatever the matcher lets run without asking must be,
 * read by the real sh, exactly one call of the allowlisted program with exactly the words the matcher saw,
 * and nothing else.
 */
import * as assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { checkAllowlist, isAllowlisted, parseShellCommand, shellWords } from '../../../src/core/tools';

const ALLOWLIST = ['npm test', 'npm run test', 'node --test', 'pytest', 'python -m pytest', 'go test', 'cargo test'];
const PROGRAMS = ['npm', 'node', 'pytest', 'python', 'go', 'cargo'];

/** A scratch folder with stand-in programs that append their argv (NUL-separated) to a log. */
class ShBench {
  readonly root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-sh-'));
  readonly bin = path.join(this.root, 'bin');
  readonly work = path.join(this.root, 'work');
  readonly log = path.join(this.root, 'argv.log');

  constructor() {
    fs.mkdirSync(this.bin);
    fs.mkdirSync(this.work);
    for (const p of PROGRAMS) {
      fs.writeFileSync(path.join(this.bin, p), '#!/bin/sh\n{ printf "CALL\\0%s\\0" "${0##*/}"; for a in "$@"; do printf "%s\\0" "$a"; done; } >> "$ARGV_LOG"\n', { mode: 0o755 });
    }
  }

  /** Runs `line` with /bin/sh in an empty folder: the calls the stand-ins saw, and the files that appeared. */
  run(line: string): { calls: string[][]; files: string[]; output: string } {
    fs.rmSync(this.log, { force: true });
    for (const f of fs.readdirSync(this.work)) fs.rmSync(path.join(this.work, f), { recursive: true, force: true });
    const r = spawnSync('/bin/sh', ['-c', line], {
      cwd: this.work,
      env: { PATH: `${this.bin}:/usr/bin:/bin`, ARGV_LOG: this.log, HOME: this.work },
      encoding: 'utf8',
      timeout: 5000,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const raw = fs.existsSync(this.log) ? fs.readFileSync(this.log, 'utf8') : '';
    const calls = raw
      .split('CALL\0')
      .filter(Boolean)
      .map(c => c.split('\0').slice(0, -1));
    return { calls, files: fs.readdirSync(this.work), output: (r.stdout ?? '') + (r.stderr ?? '') };
  }

  cleanup(): void {
    fs.rmSync(this.root, { recursive: true, force: true });
  }
}

/** The quoting attacks from the review and their relatives: each hides `touch M` from a naive matcher. */
const QUOTING_ATTACKS = [
  'npm test "\\"" ; touch M ; \\"',
  'npm test "\\"" && touch M && \\"',
  'npm test "\\"" || touch M || \\"',
  'npm test "\\"" | sh -c "touch M" \\"',
  'npm test "\\"" > M \\"',
  'npm test "\\"" >M; "\\"',
  'npm test "\\"" & touch M & \\"',
  'npm test #"; touch M; "',
  'npm test "\\"" #"; touch M',
  'pytest "\\"" ; touch M ; \\"',
  'python -m pytest "\\"" ; touch M ; \\"',
  'node --test "\\"" ; touch M ; \\"',
  'go test "\\"" ; touch M ; \\"',
  'cargo test "\\"" ; touch M ; \\"',
  "npm test '\\'' ; touch M ; '\\''",
  'npm test "$(touch M)"',
  'npm test "`touch M`"',
  'npm test $(touch M)',
  'npm test \\"; touch M; \\"',
  "npm test 'a\\'; touch M #'",
  'npm test\ntouch M',
  'npm test\rtouch M',
  'npm test \\\ntouch M',
  'npm test\u00a0; touch M',
  'npm test \u202e"; touch M #',
  'npm test \u200b; touch M',
  'npm test ${IFS}; touch M',
  'npm test {a,b}; touch M',
];

/** Arguments that load other code, change the runner's root or shell, or reach outside the folder. */
const CODE_LOADING = [
  'node --test --require ./evil.js',
  'node --test -r ./evil.js',
  'node --test --import ./evil.mjs',
  'node --test --loader ./evil.mjs',
  'node --test --experimental-loader=./evil.mjs',
  'node --test --eval "require(1)"',
  'node --test -e 1',
  'node --test --env-file=.env',
  'node --test --test-reporter=./evil.js',
  'node --test --inspect',
  'node --test ../bob/x.test.js',
  'node --test /tmp/x.test.js',
  'pytest -p evil',
  'pytest -pevil',
  'pytest -qp evil',
  'pytest --rootdir=.',
  'pytest --root=.',
  'pytest -c other.ini',
  'pytest --config-file=x.ini',
  'pytest -o addopts=-pevil',
  'pytest --override-ini=python_files=x.py',
  'pytest --pyargs evil',
  'pytest --confcutdir=.',
  'pytest -W error::evil.Warning',
  'pytest --basetemp=x',
  'pytest ../bob/tests',
  'python -m pytest -p evil',
  'npm test --prefix ../bob',
  'npm test --prefix=.',
  'npm test --pref ../bob',
  'npm test -C ../bob',
  'npm test --script-shell=/tmp/evil',
  'npm test --script-shell=sh',
  'npm test --node-options=--require=./evil.js',
  'npm test --userconfig=.npmrc',
  'npm test --workspace ../bob',
  'npm test -w x',
  'npm test -- --require ./evil.js',
  'npm test -- --config ./evil.config.js',
  'npm run test --prefix ../bob',
  'go test -exec ./evil ./...',
  'go test -toolexec ./evil',
  'go test --exec=./evil',
  'go test -C ../bob',
  'go test -ldflags=-extld=./evil',
  'go test -overlay=x.json',
  'go test ../bob/...',
  'cargo test --config target.x.runner="evil"',
  'cargo test -Zunstable-options',
  'cargo test --manifest-path ../bob/Cargo.toml',
  'cargo test --target-dir /tmp/x',
];

describe('allowlist: read as sh reads it (findings 1 and 2)', function () {
  this.timeout(120_000);
  let sh: ShBench;
  before(() => (sh = new ShBench()));
  after(() => sh.cleanup());

  it('the quoting attacks are real (sh runs the payload) and all of them ask', () => {
    let payloadRan = 0;
    let runWithoutAsking = 0;
    for (const line of QUOTING_ATTACKS) {
      const v = checkAllowlist(line, ALLOWLIST);
      if (v.match) runWithoutAsking++;
      if (sh.run(line).files.includes('M')) payloadRan++;
    }
    console.log(`      quoting attacks: ${QUOTING_ATTACKS.length}, payload runs under sh: ${payloadRan}, run without asking: ${runWithoutAsking}`);
    assert.equal(runWithoutAsking, 0);
    assert.ok(payloadRan >= 15, `most of these are live attacks under sh (${payloadRan})`);
    // The headline case from the review, with its reason.
    const v = checkAllowlist('npm test "\\"" ; touch M ; \\"', ALLOWLIST);
    assert.ok(!v.match && /chains commands/.test(v.why), JSON.stringify(v));
  });

  it('every code-loading, root-moving or outside-path argument asks', () => {
    const ran = CODE_LOADING.filter(c => isAllowlisted(c, ALLOWLIST));
    console.log(`      code-loading flag attempts: ${CODE_LOADING.length}, run without asking: ${ran.length}`);
    assert.deepEqual(ran, []);
    // Each asks for that reason, not because the line failed to parse.
    for (const c of CODE_LOADING) assert.ok(parseShellCommand(c).ok, c);
  });

  it('ordinary test invocations still run without asking', () => {
    const fine = [
      'npm test',
      'npm test -- --grep "adds numbers"',
      'npm test --silent',
      'npm run test',
      'node --test',
      'node --test tests/add.test.js',
      'node --test --test-name-pattern="add"',
      'pytest',
      'pytest -q tests/test_add.py',
      'pytest -x -k "add and not slow"',
      'pytest tests/test_a.py::test_one -vv',
      'python -m pytest -q',
      'go test ./...',
      'go test -run TestAdd -v ./...',
      'go test -count=1 ./...',
      'cargo test',
      'cargo test -- --nocapture',
      'cargo test add -q',
    ];
    assert.deepEqual(
      fine.filter(c => !isAllowlisted(c, ALLOWLIST)),
      [],
    );
  });

  it('tokenizes exactly as POSIX sh on hand-picked quoting (checked against the real sh)', () => {
    const lines = [
      'npm test "a\\b"',
      'npm test "a\\\\b"',
      'npm test "a\\"b"',
      'npm test "a\\$b"',
      'npm test "a\\`b"',
      "npm test 'a\\b'",
      "npm test 'a\"b'",
      'npm test a\\ b',
      'npm test a\\"b',
      "npm test a\\'b",
      'npm test ""',
      "npm test ''",
      'npm test "" x',
      'npm test a"b"\'c\'d',
      'npm test \\#x',
      'npm test "#"',
      'npm test "*" "?" "[a]" "{a,b}" "~" "!" "^"',
      'npm test \\* \\? \\[ \\~ \\{',
      'npm test\t-x\t\t"y"',
      'npm test é "ü"',
    ];
    for (const line of lines) {
      const p = parseShellCommand(line);
      assert.ok(p.ok, `${line}: ${JSON.stringify(p)}`);
      const got = sh.run(line);
      assert.deepEqual(got.calls, [p.argv], line);
    }
  });

  it(`fuzz: generated command lines; what runs without asking is exactly what sh runs`, () => {
    const rnd = mulberry32(0x5eed);
    const pick = <T>(a: readonly T[]): T => a[Math.floor(rnd() * a.length)]!;
    const FRAGMENTS = [
      'x', '-v', '--grep', 'a b', '"', "'", '\\', '\\"', "\\'", '\\\\', '"\\""', "'\\''", '""', "''", ';', '&&', '||', '|', '&', '>', '<',
      '>>', '2>&1', '>M', '$(touch M)', '`touch M`', '$X', '${X}', '$IFS', '#', 'touch M', 'sh -c "touch M"', "sh -c 'touch M'",
      '*', '?', '[a]', '{a,b}', '~', '!', '^', '=', 'X=1', '\n', '\r', '\t', '\u00a0', '\u200b', '\u202e', '\u2028', '\\\n', '--',
      '--require', '-r', './evil.js', '../bob', '/tmp/x', '-p', 'evil', '--prefix', '--script-shell=sh', '-exec', '(', ')', '%',
      'a"b', "a'b", '"a;b"', "'a|b'", '"$"', '"\\$X"', '"\\`"', 'é', 'tests/a.test.js', '-k', '"add"', ':', ',', '@',
    ];
    const SEPS = ['', ' ', ' ', ' ', '\t'];
    const TEMPLATES = QUOTING_ATTACKS.filter(t => t.startsWith('npm') || t.startsWith('pytest') || t.startsWith('node'));
    const generate = (): string => {
      if (rnd() < 0.3) {
        // Mutate a known attack: delete, insert or replace a few characters.
        const chars = [...pick(TEMPLATES)];
        for (let k = 1 + Math.floor(rnd() * 3); k > 0; k--) {
          const at = Math.floor(rnd() * (chars.length + 1));
          const op = rnd();
          if (op < 0.33 && chars.length > 4) chars.splice(at, 1);
          else if (op < 0.66) chars.splice(at, 0, pick(['"', "'", '\\', ' ', ';', '#', '$', '`', '|', '>', '\n']));
          else if (at < chars.length) chars[at] = pick(['"', "'", '\\', ' ', 'x']);
        }
        return chars.join('');
      }
      let line = pick(ALLOWLIST);
      for (let n = 1 + Math.floor(rnd() * 6); n > 0; n--) line += pick(SEPS) + pick(FRAGMENTS);
      return line;
    };

    const N = 2000;
    let autoRun = 0;
    let parsed = 0;
    let runWithoutAsking = 0;
    let disagreements = 0;
    const bad: string[] = [];
    for (let i = 0; i < N; i++) {
      const line = generate();
      const p = parseShellCommand(line);
      const v = checkAllowlist(line, ALLOWLIST);
      if (!p.ok && !v.match) continue;
      // A mutation can turn the program name into something that is not one of the stand-ins.
      if (p.ok && !PROGRAMS.includes(p.argv[0]!)) {
        assert.ok(!v.match, line);
        continue;
      }
      parsed++;
      // Whatever the tokenizer accepts, sh must read the same way: one call, the same words, no side effects.
      const got = sh.run(line);
      const same = p.ok && got.calls.length === 1 && JSON.stringify(got.calls[0]) === JSON.stringify([path.basename(p.argv[0]!), ...p.argv.slice(1)]) && got.files.length === 0;
      if (p.ok && !same) {
        disagreements++;
        if (bad.length < 5) bad.push(`${JSON.stringify(line)} parsed ${JSON.stringify(p.argv)} but sh ran ${JSON.stringify(got.calls)} files ${JSON.stringify(got.files)}`);
      }
      if (v.match) {
        autoRun++;
        if (!same || got.files.includes('M')) {
          runWithoutAsking++;
          if (bad.length < 5) bad.push(`auto-run ${JSON.stringify(line)}`);
        }
      }
    }
    const total = QUOTING_ATTACKS.length + CODE_LOADING.length + N;
    console.log(
      `      allowlist bypass attempts: ${total} (${QUOTING_ATTACKS.length + CODE_LOADING.length} written, ${N} generated), run without asking: ${runWithoutAsking}; ` +
        `generated lines read as plain words: ${parsed}, checked against sh: ${parsed}, disagreements with sh: ${disagreements}; ` +
        `allowlisted ones (exactly the listed program and words under sh): ${autoRun}`,
    );
    assert.deepEqual(bad, []);
    assert.equal(runWithoutAsking, 0);
    assert.equal(disagreements, 0);
    assert.ok(parsed > 200 && autoRun > 50, `the fuzz must also produce lines that parse (${parsed}) and run (${autoRun}), or it proves little`);
  });

  it('shellWords keeps its old contract', () => {
    assert.deepEqual(shellWords('npm test -- --grep "a b"'), ['npm', 'test', '--', '--grep', 'a b']);
    assert.equal(shellWords('npm test; rm -rf ~'), undefined);
  });
});

function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
