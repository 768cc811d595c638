// Runs the integration suite (test/integration/index.ts) in a desktop VS Code downloaded by @vscode/test-electron
// — for contributors whose machines can reach update.code.visualstudio.com. Offline machines use the code-server
// runner instead (npm run test:integration).
//   npm run test:electron                        VS Code 1.100.3 (the oldest version package.json's engines allow)
//   VSCODE_VERSION=stable npm run test:electron  another version ("stable", "insiders" or "1.x.y")
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runTests } from '@vscode/test-electron';

async function main(): Promise<void> {
  const repo = path.resolve(__dirname, '../../..'); // out/test/integration -> repo root
  // a fresh copy of the sample workspace per run: tests create files in it
  const workspace = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-workspace-'));
  fs.cpSync(path.join(repo, 'sample-workspace'), workspace, { recursive: true });
  const version = process.env.VSCODE_VERSION && /^\d+\.\d+\.\d+$|^stable$|^insiders$/.test(process.env.VSCODE_VERSION)
    ? process.env.VSCODE_VERSION
    : '1.100.3';
  try {
    await runTests({
      version,
      extensionDevelopmentPath: repo,
      extensionTestsPath: path.join(__dirname, 'index'),
      launchArgs: [workspace, '--disable-extensions', '--disable-workspace-trust'],
      extensionTestsEnv: {
        AI2AI_TEST_RESULTS: process.env.AI2AI_TEST_RESULTS ?? path.join(repo, 'artifacts', `electron-${version}-results.json`),
      },
    });
  } finally {
    fs.rmSync(workspace, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error('integration tests failed:', err instanceof Error ? err.message : err);
  process.exit(1);
});
