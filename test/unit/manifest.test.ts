import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { OLLAMA_DEFAULTS, TIMEOUT_SETTINGS } from '../../src/core/providers';
import { COMMAND_IDS } from '../../src/vscode/commandIds';

const ROOT = path.resolve(__dirname, '../../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));

describe('package.json', () => {
  it('contributes exactly the commands in the command table, all under the AI2AI category', () => {
    const contributed = pkg.contributes.commands.map((c: { command: string }) => c.command).sort();
    assert.deepEqual(contributed, [...COMMAND_IDS].sort());
    for (const c of pkg.contributes.commands) assert.equal(c.category, 'AI2AI', c.command);
  });

  it('menus name only contributed commands and views', () => {
    const ids = new Set(COMMAND_IDS as readonly string[]);
    for (const [where, items] of Object.entries(pkg.contributes.menus)) {
      for (const item of items as Array<{ command: string }>) assert.ok(ids.has(item.command), `${where}: ${item.command}`);
    }
    const views = new Set(pkg.contributes.views.ai2ai.map((v: { id: string }) => v.id));
    for (const w of pkg.contributes.viewsWelcome) assert.ok(views.has(w.view), w.view);
  });

  it('finding 5: the command settings are machine-scoped, so a workspace cannot widen the allowlist or turn the sandbox off', () => {
    const props = pkg.contributes.configuration.properties ?? pkg.contributes.configuration[0]?.properties;
    for (const key of ['ai2ai.commands.allowlist', 'ai2ai.commands.sandbox', 'ai2ai.commands.network']) {
      assert.ok(props[key], `${key} is contributed`);
      assert.ok(['machine', 'application'].includes(props[key].scope), `${key} has scope ${props[key].scope}`);
    }
    assert.deepEqual(props['ai2ai.commands.sandbox'].enum, ['auto', 'required', 'off']);
    assert.equal(props['ai2ai.commands.sandbox'].default, 'auto');
    assert.equal(props['ai2ai.commands.network'].default, false);
    // And the adapter reads them from user (or remote) settings only, whatever the scope says.
    const config = fs.readFileSync(path.join(ROOT, 'src/vscode/config.ts'), 'utf8');
    assert.match(config, /allowlist: userValue\(c, 'commands\.allowlist'\)/);
    assert.match(config, /sandbox: userValue\(c, 'commands\.sandbox'\)/);
    assert.match(config, /globalValue \?\? v\?\.defaultValue/);
  });

  it('declares the timeout settings the provider messages name, with the defaults the providers use', () => {
    const props = pkg.contributes.configuration.properties;
    assert.equal(props[TIMEOUT_SETTINGS.firstToken]?.default * 1000, OLLAMA_DEFAULTS.firstTokenTimeoutMs);
    assert.equal(props[TIMEOUT_SETTINGS.idle]?.default * 1000, OLLAMA_DEFAULTS.idleTimeoutMs);
  });

  it('shows the Model Providers view from the start, and the empty Agents view says how to add a model server', () => {
    const providers = pkg.contributes.views.ai2ai.find((v: { id: string }) => v.id === 'ai2ai.providers');
    assert.equal(providers.visibility, undefined);
    const welcome = pkg.contributes.viewsWelcome.find((w: { view: string; when: string }) => w.view === 'ai2ai.agents' && w.when === 'ai2ai.state == ready');
    assert.match(welcome.contents, /model server/);
    assert.match(welcome.contents, /\(command:ai2ai\.addProvider\)/);
  });

  it('targets a VS Code no newer than the oldest one tested (1.100) and ships the wasm', () => {
    assert.equal(pkg.engines.vscode, '^1.100.0');
    assert.match(pkg.devDependencies['@types/vscode'], /^\^?1\.100\.0$/);
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8');
    assert.match(ignore, /!dist\/sql-wasm\.wasm/);
    assert.match(ignore, /!dist\/extension\.js/);
  });

  it('ships every part the extension loads lazily (esbuild.mjs PARTS), and the API', () => {
    const build = fs.readFileSync(path.join(ROOT, 'esbuild.mjs'), 'utf8');
    const parts = [...(build.match(/const PARTS = \{([^}]*)\}/)?.[1] ?? '').matchAll(/'([^']+)': '([^']+)'/g)].map(m => ({ entry: m[1], file: m[2] }));
    assert.ok(parts.some(p => p.file === 'runs.js'), 'the agent runner is a part');
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8').split('\n').map(l => l.trim());
    for (const { entry, file } of [...parts, { entry: 'src/api/index.ts', file: 'api.js' }]) {
      assert.ok(fs.existsSync(path.join(ROOT, entry)), `${entry} exists`);
      assert.ok(ignore.includes(`!dist/${file}`), `.vscodeignore ships dist/${file}`);
    }
  });
});

describe('layering', () => {
  function files(dir: string): string[] {
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir, { withFileTypes: true }).flatMap(e => (e.isDirectory() ? files(path.join(dir, e.name)) : [path.join(dir, e.name)]));
  }

  it('nothing under src/core, src/api or src/cli imports vscode', () => {
    const offenders = [...files(path.join(ROOT, 'src/core')), ...files(path.join(ROOT, 'src/api')), ...files(path.join(ROOT, 'src/cli'))]
      .filter(f => f.endsWith('.ts'))
      .filter(f => /(from\s+['"]vscode['"]|require\(\s*['"]vscode['"]\s*\)|import\(\s*['"]vscode['"]\s*\))/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map(f => path.relative(ROOT, f)), []);
  });

  it('the task view renderer is pure (tested under plain Node)', () => {
    const src = fs.readFileSync(path.join(ROOT, 'src/vscode/taskPanel/render.ts'), 'utf8');
    assert.doesNotMatch(src, /from\s+['"]vscode['"]/);
  });

  it('activate() stays small', () => {
    const src = fs.readFileSync(path.join(ROOT, 'src/extension.ts'), 'utf8');
    assert.ok(src.split('\n').length <= 30, `src/extension.ts has ${src.split('\n').length} lines`);
  });

  it('no console.log in shipped code', () => {
    const offenders = files(path.join(ROOT, 'src')).filter(f => f.endsWith('.ts') && /console\.log\(/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map(f => path.relative(ROOT, f)), []);
  });
});
