// Programmatic mocha runner, loaded by the VS Code extension host through `extensionTestsPath`
// (scripts/vscode-run.mjs tests in code-server, or test/integration/electron.ts with @vscode/test-electron).
// Runs every out/test/integration/**/*.test.js with the BDD UI (describe/it), prints a final line
// `N passed, N failed`, writes JSON results to $AI2AI_TEST_RESULTS when set, and rejects when anything failed.
import * as fs from 'fs';
import * as path from 'path';
import Mocha from 'mocha';

function findTests(dir: string): string[] {
  const found: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) found.push(...findTests(p));
    else if (entry.isFile() && entry.name.endsWith('.test.js')) found.push(p);
  }
  return found.sort();
}

interface TestResult { title: string; state: 'passed' | 'failed' | 'pending'; durationMs?: number; error?: string }

export function run(): Promise<void> {
  const mocha = new Mocha({
    ui: 'bdd',
    reporter: 'spec',
    color: false,
    timeout: Number(process.env.AI2AI_MOCHA_TIMEOUT ?? 20_000),
    grep: process.env.AI2AI_TEST_GREP || undefined,
  });
  const files = findTests(__dirname);
  for (const f of files) mocha.addFile(f);
  console.log(`[integration] ${files.length} test file(s): ${files.map(f => path.relative(__dirname, f)).join(', ')}`);

  return new Promise((resolve, reject) => {
    const results: TestResult[] = [];
    let runner: Mocha.Runner;
    try {
      runner = mocha.run(failures => {
        const passed = runner.stats?.passes ?? results.filter(r => r.state === 'passed').length;
        const failed = Math.max(failures, results.filter(r => r.state === 'failed').length);
        const pending = runner.stats?.pending ?? 0;
        const file = process.env.AI2AI_TEST_RESULTS;
        if (file) {
          fs.mkdirSync(path.dirname(file), { recursive: true });
          fs.writeFileSync(file, JSON.stringify({ passed, failed, pending, node: process.versions.node, tests: results }, null, 2));
        }
        console.log(`${passed} passed, ${failed} failed`);
        if (failed > 0 || files.length === 0) reject(new Error(files.length ? `${failed} test(s) failed` : 'no integration test files found'));
        else resolve();
      });
    } catch (e) {
      // a test file that throws while loading (syntax error, missing module) ends up here
      console.error(e);
      console.log('0 passed, 1 failed');
      reject(e);
      return;
    }
    runner.on('pass', t => results.push({ title: t.fullTitle(), state: 'passed', durationMs: t.duration }));
    runner.on('pending', t => results.push({ title: t.fullTitle(), state: 'pending' }));
    runner.on('fail', (t, err: Error) => results.push({ title: t.fullTitle(), state: 'failed', error: String(err?.stack ?? err) }));
  });
}
