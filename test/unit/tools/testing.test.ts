import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { detectTestCommand, parseTestOutput, resolveTestCommand } from '../../../src/core/tools';
import { fixture, write, type Fixture } from './helpers';

describe('test command detection', () => {
  let f: Fixture;
  beforeEach(() => (f = fixture()));
  afterEach(() => f.cleanup());

  it('package.json scripts.test -> npm test', async () => {
    write(f.dir, 'package.json', JSON.stringify({ scripts: { test: 'mocha' } }));
    assert.deepEqual(await detectTestCommand(f.dir), { command: 'npm test', framework: 'npm', reason: 'package.json has scripts.test' });
  });
  it("npm's placeholder script is not a test suite", async () => {
    write(f.dir, 'package.json', JSON.stringify({ scripts: { test: 'echo "Error: no test specified" && exit 1' } }));
    assert.equal(await detectTestCommand(f.dir), undefined);
  });
  for (const [file, content] of [
    ['pytest.ini', '[pytest]\n'],
    ['pyproject.toml', '[tool.pytest.ini_options]\n'],
    ['setup.cfg', '[tool:pytest]\n'],
    ['conftest.py', ''],
    ['tests/test_add.py', 'def test_x(): pass\n'],
    ['test_root.py', 'def test_x(): pass\n'],
  ] as const) {
    it(`${file} -> pytest`, async () => {
      write(f.dir, file, content);
      assert.equal((await detectTestCommand(f.dir))?.command, 'pytest');
    });
  }
  it('pyproject.toml without pytest is not enough', async () => {
    write(f.dir, 'pyproject.toml', '[project]\nname="x"\n');
    assert.equal(await detectTestCommand(f.dir), undefined);
  });
  for (const file of ['tests/add.test.js', 'test/add.js', 'add.test.mjs', 'src/lib/add_test.cjs', 'tests/unit/test-add.js', 'test.js']) {
    it(`${file} and no test script -> node --test`, async () => {
      write(f.dir, 'package.json', JSON.stringify({ name: 'x' }));
      write(f.dir, file, "require('node:test')('t', () => {});\n");
      assert.deepEqual(await detectTestCommand(f.dir), {
        command: 'node --test', framework: 'node', reason: 'test files that node --test finds (such as tests/*.test.js)',
      });
    });
  }
  it('a fresh agent folder (README, empty src/ and tests/) has no tests; node_modules and plain sources do not count', async () => {
    write(f.dir, 'README.md', '# Ada\n');
    write(f.dir, 'src/add.js', 'module.exports = 1;\n');
    write(f.dir, 'tests/helpers.js', '');
    write(f.dir, 'node_modules/x/x.test.js', '');
    assert.equal(await detectTestCommand(f.dir), undefined);
  });
  it('a test script still wins over node --test files', async () => {
    write(f.dir, 'package.json', JSON.stringify({ scripts: { test: 'jest' } }));
    write(f.dir, 'tests/add.test.js', '');
    assert.equal((await detectTestCommand(f.dir))?.command, 'npm test');
  });
  it('go.mod -> go test ./...', async () => {
    write(f.dir, 'go.mod', 'module x\n');
    assert.equal((await detectTestCommand(f.dir))?.command, 'go test ./...');
  });
  it('Cargo.toml -> cargo test', async () => {
    write(f.dir, 'Cargo.toml', '[package]\n');
    assert.equal((await detectTestCommand(f.dir))?.command, 'cargo test');
  });
  it('a marker that is a folder or a symbolic link does not count; a missing folder has no tests', async () => {
    fs.mkdirSync(path.join(f.dir, 'go.mod'));
    fs.mkdirSync(path.join(f.dir, 'conftest.py'));
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-markers-'));
    try {
      fs.writeFileSync(path.join(outside, 'Cargo.toml'), '[package]\n');
      fs.writeFileSync(path.join(outside, 'package.json'), JSON.stringify({ scripts: { test: 'mocha' } }));
      fs.symlinkSync(path.join(outside, 'Cargo.toml'), path.join(f.dir, 'Cargo.toml'));
      fs.symlinkSync(path.join(outside, 'package.json'), path.join(f.dir, 'package.json'));
      assert.equal(await detectTestCommand(f.dir), undefined);
    } finally {
      fs.rmSync(outside, { recursive: true, force: true });
    }
    assert.equal(await detectTestCommand(path.join(f.dir, 'no-such-folder')), undefined);
  });
  it('nothing -> undefined; an explicit command wins', async () => {
    assert.equal(await detectTestCommand(f.dir), undefined);
    write(f.dir, 'go.mod', 'module x\n');
    assert.deepEqual(await resolveTestCommand(f.dir, ' make check '), { command: 'make check', framework: 'explicit', reason: 'set for this agent or task' });
  });
});

describe('test output parsing', () => {
  const samples: Array<[string, string, number | null, { passed: number; failed: number; skipped?: number; format: string; ok: boolean }]> = [
    [
      'node --test TAP',
      'TAP version 13\n# Subtest: adds\nok 1 - adds\n  ---\n  duration_ms: 0.5\n  ...\n# Subtest: subtracts\nnot ok 2 - subtracts\n1..2\n# tests 2\n# suites 0\n# pass 1\n# fail 1\n# cancelled 0\n# skipped 0\n# todo 0\n# duration_ms 45.1\n',
      1,
      { passed: 1, failed: 1, skipped: 0, format: 'node-tap', ok: false },
    ],
    [
      'node --test spec reporter',
      '✔ adds (0.6ms)\n✖ subtracts (1.1ms)\nℹ tests 3\nℹ suites 0\nℹ pass 2\nℹ fail 1\nℹ cancelled 0\nℹ skipped 0\nℹ todo 0\nℹ duration_ms 52.3\n',
      1,
      { passed: 2, failed: 1, skipped: 0, format: 'node-spec', ok: false },
    ],
    [
      'mocha, all passing, colours',
      '\n\n  add\n    \x1b[32m✔\x1b[0m adds\n\n\n  \x1b[92m \x1b[0m\x1b[32m 12 passing\x1b[0m\x1b[90m (15ms)\x1b[0m\n  \x1b[36m 1 pending\x1b[0m\n\n',
      0,
      { passed: 12, failed: 0, skipped: 1, format: 'mocha', ok: true },
    ],
    [
      'mocha with failures',
      '  10 passing (20ms)\n  2 failing\n\n  1) add\n       adds:\n     AssertionError\n',
      2,
      { passed: 10, failed: 2, skipped: 0, format: 'mocha', ok: false },
    ],
    [
      'jest',
      'PASS  src/a.test.js\nFAIL  src/b.test.js\n\nTest Suites: 1 failed, 1 passed, 2 total\nTests:       1 failed, 2 skipped, 5 passed, 8 total\nSnapshots:   0 total\nTime:        1.2 s\n',
      1,
      { passed: 5, failed: 1, skipped: 2, format: 'jest', ok: false },
    ],
    [
      'vitest',
      ' ✓ src/a.test.ts (3 tests) 2ms\n ❯ src/b.test.ts (2 tests | 1 failed) 4ms\n\n Test Files  1 failed | 1 passed (2)\n      Tests  1 failed | 4 passed (5)\n   Start at  10:00:00\n   Duration  300ms\n',
      1,
      { passed: 4, failed: 1, skipped: 0, format: 'vitest', ok: false },
    ],
    [
      'pytest, framed summary',
      '============================= test session starts ==============================\ncollected 8 items\n\ntests/test_a.py ..F.s...                                              [100%]\n\n=================================== FAILURES ===================================\n=========================== short test summary info ============================\nFAILED tests/test_a.py::test_sub - assert 1 == 2\n==================== 1 failed, 6 passed, 1 skipped in 0.12s ====================\n',
      1,
      { passed: 6, failed: 1, skipped: 1, format: 'pytest', ok: false },
    ],
    ['pytest -q, all passed', '........                                                                 [100%]\n8 passed in 0.03s\n', 0, { passed: 8, failed: 0, skipped: 0, format: 'pytest', ok: true }],
    ['pytest with errors', '==== 2 passed, 1 error in 0.50s ====\n', 1, { passed: 2, failed: 1, skipped: 0, format: 'pytest', ok: false }],
    [
      'go test -v',
      '=== RUN   TestAdd\n--- PASS: TestAdd (0.00s)\n=== RUN   TestSub\n    sub_test.go:9: got 1 want 2\n--- FAIL: TestSub (0.00s)\n=== RUN   TestSkip\n--- SKIP: TestSkip (0.00s)\nFAIL\nFAIL\texample.com/calc\t0.002s\nFAIL\n',
      1,
      { passed: 1, failed: 1, skipped: 1, format: 'go', ok: false },
    ],
    ['go test, packages only', 'ok  \texample.com/calc\t0.002s\nok  \texample.com/util\t(cached)\n', 0, { passed: 2, failed: 0, skipped: 0, format: 'go', ok: true }],
    ['go build failure', '# example.com/calc\n./add.go:3:1: syntax error\nFAIL\texample.com/calc [build failed]\nFAIL\n', 1, { passed: 0, failed: 1, skipped: 0, format: 'go', ok: false }],
    [
      'cargo, unit and doc tests summed',
      'running 3 tests\ntest tests::a ... ok\ntest tests::b ... FAILED\ntest tests::c ... ignored\n\ntest result: FAILED. 1 passed; 1 failed; 1 ignored; 0 measured; 0 filtered out; finished in 0.00s\n\n   Doc-tests calc\n\nrunning 2 tests\ntest result: ok. 2 passed; 0 failed; 0 ignored; 0 measured; 0 filtered out; finished in 0.10s\n',
      101,
      { passed: 3, failed: 1, skipped: 1, format: 'cargo', ok: false },
    ],
    ['CRLF mocha output', '  4 passing (3ms)\r\n', 0, { passed: 4, failed: 0, skipped: 0, format: 'mocha', ok: true }],
    ['unknown output, exit 0', 'all good\n', 0, { passed: 0, failed: 0, format: 'exit_code', ok: true }],
    ['unknown output, exit 1', 'Segmentation fault\n', 1, { passed: 0, failed: 1, format: 'exit_code', ok: false }],
    ['killed (no exit code)', '', null, { passed: 0, failed: 1, format: 'exit_code', ok: false }],
    ['counts say pass but the command failed', '  3 passing (1ms)\n', 1, { passed: 3, failed: 0, skipped: 0, format: 'mocha', ok: false }],
  ];
  for (const [name, output, code, want] of samples) {
    it(name, () => assert.deepEqual(parseTestOutput(output, code), want));
  }
});
