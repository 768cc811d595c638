import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
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

  it('targets a VS Code no newer than the oldest one tested (1.100) and ships the wasm', () => {
    assert.equal(pkg.engines.vscode, '^1.100.0');
    assert.match(pkg.devDependencies['@types/vscode'], /^\^?1\.100\.0$/);
    const ignore = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8');
    assert.match(ignore, /!dist\/sql-wasm\.wasm/);
    assert.match(ignore, /!dist\/extension\.js/);
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

  it('activate() stays small', () => {
    const src = fs.readFileSync(path.join(ROOT, 'src/extension.ts'), 'utf8');
    assert.ok(src.split('\n').length <= 30, `src/extension.ts has ${src.split('\n').length} lines`);
  });

  it('no console.log in shipped code', () => {
    const offenders = files(path.join(ROOT, 'src')).filter(f => f.endsWith('.ts') && /console\.log\(/.test(fs.readFileSync(f, 'utf8')));
    assert.deepEqual(offenders.map(f => path.relative(ROOT, f)), []);
  });
});
