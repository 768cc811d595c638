/**
 * Which command tests an agent's folder, and what its output says. Detection looks only at the folder
 * itself (the agent's project), in a fixed order so the result is predictable. Parsing reads the
 * summary lines each framework prints; when none is found the exit code decides.
 */
import * as fs from 'node:fs/promises';
import * as path from 'node:path';
import { entryOf, readDirBelow, readFileBelow, type DirEntry } from '../workspace/safeFs';

export type TestFramework = 'npm' | 'node' | 'pytest' | 'go' | 'cargo' | 'explicit';

export interface DetectedTestCommand {
  command: string;
  framework: TestFramework;
  /** Why this command, for the task log ("package.json has scripts.test"). */
  reason: string;
}

// The folder is the agent's: its marker files are read like any agent file, without following links and
// never from a FIFO or device (one named package.json would hang detection forever).
const MAX_MARKER_BYTES = 1024 * 1024;

function readText(dir: string, name: string): string | undefined {
  try {
    const r = readFileBelow(dir, path.join(dir, name), MAX_MARKER_BYTES);
    return r.kind === 'ok' ? r.buf.toString('utf8') : undefined;
  } catch {
    return undefined;
  }
}

/** The folder's own entries (not following links), or none when it cannot be listed. */
function listing(dir: string, sub = '.'): DirEntry[] {
  try {
    return readDirBelow(dir, path.join(dir, sub));
  } catch {
    return [];
  }
}

/**
 * Files `node --test` runs when given no paths (Node 20 and later): `*.test.js`, `*-test.js`, `*_test.js`,
 * `test-*.js`, `test.js` (each also .cjs/.mjs), and any script under a `test/` folder.
 */
const NODE_TEST_FILE = /^(?:.+[.\-_]test|test-.+|test)\.[cm]?js$/;

/** Whether `node --test` would find a test file here (a bounded walk: three levels, no node_modules or dot folders). */
async function hasNodeTests(dir: string, depth = 0, inTestDir = false, listed?: readonly DirEntry[]): Promise<boolean> {
  let entries = listed;
  if (!entries) {
    try {
      entries = (await fs.readdir(dir, { withFileTypes: true })).map(entryOf);
    } catch {
      return false;
    }
  }
  for (const e of entries) if (e.kind === 'file' && (NODE_TEST_FILE.test(e.name) || (inTestDir && /\.[cm]?js$/.test(e.name)))) return true;
  if (depth >= 3) return false;
  for (const e of entries.slice(0, 200)) {
    if (e.kind !== 'dir' || e.name === 'node_modules' || e.name.startsWith('.')) continue;
    if (await hasNodeTests(path.join(dir, e.name), depth + 1, inTestDir || e.name === 'test')) return true;
  }
  return false;
}

/** test_*.py or *_test.py in the folder (its listing `top`) or in its tests/ folder. */
function hasPyTests(dir: string, top: readonly DirEntry[]): boolean {
  const isTestFile = (e: DirEntry) => e.kind === 'file' && /^test_.*\.py$|_test\.py$/.test(e.name);
  return top.some(isTestFile) || (top.some(e => e.name === 'tests' && e.kind === 'dir') && listing(dir, 'tests').some(isTestFile));
}

/** npm's placeholder script fails on purpose; it is not a test suite. */
const NPM_PLACEHOLDER = /no test specified/i;

export async function detectTestCommand(dir: string): Promise<DetectedTestCommand | undefined> {
  // One listing of the folder says which marker files are there; only those are read (a run asks at its
  // start and again when the agent says it is done).
  const top = listing(dir);
  const files = new Set(top.filter(e => e.kind === 'file').map(e => e.name));
  const text = (name: string) => (files.has(name) ? readText(dir, name) : undefined);
  const pkg = text('package.json');
  if (pkg !== undefined) {
    try {
      const test = (JSON.parse(pkg) as { scripts?: Record<string, unknown> }).scripts?.test;
      if (typeof test === 'string' && test.trim() && !NPM_PLACEHOLDER.test(test)) {
        return { command: 'npm test', framework: 'npm', reason: 'package.json has scripts.test' };
      }
    } catch {
      // A broken package.json is the agent's to fix; fall through to other markers.
    }
  }
  if (await hasNodeTests(dir, 0, false, top)) return { command: 'node --test', framework: 'node', reason: 'test files that node --test finds (such as tests/*.test.js)' };
  if (files.has('pytest.ini')) return { command: 'pytest', framework: 'pytest', reason: 'pytest.ini' };
  const pyproject = text('pyproject.toml');
  if (pyproject && /\[tool\.pytest/.test(pyproject)) return { command: 'pytest', framework: 'pytest', reason: 'pyproject.toml configures pytest' };
  const setupCfg = text('setup.cfg');
  if (setupCfg && /\[tool:pytest\]/.test(setupCfg)) return { command: 'pytest', framework: 'pytest', reason: 'setup.cfg configures pytest' };
  if (files.has('conftest.py')) return { command: 'pytest', framework: 'pytest', reason: 'conftest.py' };
  if (hasPyTests(dir, top)) return { command: 'pytest', framework: 'pytest', reason: 'test_*.py files' };
  if (files.has('go.mod')) return { command: 'go test ./...', framework: 'go', reason: 'go.mod' };
  if (files.has('Cargo.toml')) return { command: 'cargo test', framework: 'cargo', reason: 'Cargo.toml' };
  return undefined;
}

/** The explicit command (agent or task setting) wins; otherwise detect. */
export async function resolveTestCommand(dir: string, explicit?: string): Promise<DetectedTestCommand | undefined> {
  if (explicit && explicit.trim()) return { command: explicit.trim(), framework: 'explicit', reason: 'set for this agent or task' };
  return detectTestCommand(dir);
}

export interface TestSummary {
  passed: number;
  failed: number;
  skipped?: number;
  /** Which summary format was recognised, or 'exit_code'. */
  format: 'cargo' | 'jest' | 'vitest' | 'pytest' | 'mocha' | 'node-tap' | 'node-spec' | 'go' | 'exit_code';
  /** Passed overall: nothing failed and the command exited 0. */
  ok: boolean;
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g;

function num(re: RegExp, text: string): number | undefined {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

function countIn(line: string, word: RegExp): number {
  let n = 0;
  for (const m of line.matchAll(word)) n += Number(m[1]);
  return n;
}

type Counts = Omit<TestSummary, 'ok'>;

function parseCounts(text: string): Counts | undefined {
  // cargo: one "test result" line per test binary (unit, integration, doc tests): sum them.
  const cargo = [...text.matchAll(/test result: (?:ok|FAILED)\. (\d+) passed; (\d+) failed; (\d+) ignored/g)];
  if (cargo.length) {
    return {
      format: 'cargo',
      passed: cargo.reduce((s, m) => s + Number(m[1]), 0),
      failed: cargo.reduce((s, m) => s + Number(m[2]), 0),
      skipped: cargo.reduce((s, m) => s + Number(m[3]), 0),
    };
  }
  const jest = /^Tests:\s+(.+)$/m.exec(text);
  if (jest) {
    const l = jest[1]!;
    return { format: 'jest', passed: countIn(l, /(\d+) passed/g), failed: countIn(l, /(\d+) failed/g), skipped: countIn(l, /(\d+) (?:skipped|todo)/g) };
  }
  const vitest = /^\s*Tests\s{2,}(.+\(\d+\))\s*$/m.exec(text);
  if (vitest) {
    const l = vitest[1]!;
    return { format: 'vitest', passed: countIn(l, /(\d+) passed/g), failed: countIn(l, /(\d+) failed/g), skipped: countIn(l, /(\d+) (?:skipped|todo)/g) };
  }
  // pytest: the last summary line, with or without the ==== frame ("2 failed, 5 passed in 0.12s").
  const pyLines = text.split('\n').filter(l => /\b\d+ (?:passed|failed|errors?|skipped)\b.*\bin [\d.]+s\b/.test(l));
  const py = pyLines[pyLines.length - 1];
  if (py) {
    return {
      format: 'pytest',
      passed: countIn(py, /(\d+) passed/g),
      failed: countIn(py, /(\d+) failed/g) + countIn(py, /(\d+) errors?\b/g),
      skipped: countIn(py, /(\d+) skipped/g),
    };
  }
  const passing = num(/^\s*(\d+) passing\b/m, text);
  if (passing !== undefined || /^\s*\d+ failing\b/m.test(text)) {
    return { format: 'mocha', passed: passing ?? 0, failed: num(/^\s*(\d+) failing\b/m, text) ?? 0, skipped: num(/^\s*(\d+) pending\b/m, text) ?? 0 };
  }
  const tapPass = num(/^# pass (\d+)/m, text);
  if (tapPass !== undefined) {
    return { format: 'node-tap', passed: tapPass, failed: num(/^# fail (\d+)/m, text) ?? 0, skipped: (num(/^# skipped (\d+)/m, text) ?? 0) + (num(/^# todo (\d+)/m, text) ?? 0) };
  }
  const specPass = num(/^ℹ pass (\d+)/m, text);
  if (specPass !== undefined) {
    return { format: 'node-spec', passed: specPass, failed: num(/^ℹ fail (\d+)/m, text) ?? 0, skipped: (num(/^ℹ skipped (\d+)/m, text) ?? 0) + (num(/^ℹ todo (\d+)/m, text) ?? 0) };
  }
  // go test: per-test lines with -v, otherwise one ok/FAIL line per package.
  const goPass = (text.match(/^\s*--- PASS:/gm) ?? []).length;
  const goFail = (text.match(/^\s*--- FAIL:/gm) ?? []).length;
  const goSkip = (text.match(/^\s*--- SKIP:/gm) ?? []).length;
  const okPkgs = (text.match(/^ok\s+\S+\s+(?:[\d.]+s|\(cached\))/gm) ?? []).length;
  const failPkgs = (text.match(/^FAIL\s+\S+\s+(?:[\d.]+s|\[build failed\]|\[setup failed\])/gm) ?? []).length;
  if (goPass || goFail || okPkgs || failPkgs) {
    return { format: 'go', passed: goPass || okPkgs, failed: goFail || failPkgs, skipped: goSkip };
  }
  return undefined;
}

export function parseTestOutput(output: string, exitCode: number | null): TestSummary {
  const text = output.replace(ANSI, '').replace(/\r\n?/g, '\n');
  const counts = parseCounts(text);
  if (!counts) return { format: 'exit_code', passed: 0, failed: exitCode === 0 ? 0 : 1, ok: exitCode === 0 };
  return { ...counts, ok: counts.failed === 0 && exitCode === 0 };
}
