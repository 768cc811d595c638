// Bundles the extension into dist/extension.js, the local API (loaded by the extension only when it is
// turned on) into dist/api.js, the parts only some commands need into their own files (PARTS below), and
// the headless server (`ai2ai serve`) into dist/cli.js, and copies sql.js's wasm beside them.
//   node esbuild.mjs               development build with source maps
//   node esbuild.mjs --production  minified, no source maps (what `npm run package` ships)
//   node esbuild.mjs --watch       rebuild on change
import * as esbuild from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';

const production = process.argv.includes('--production');
const watch = process.argv.includes('--watch');
const require = createRequire(import.meta.url);

mkdirSync('dist', { recursive: true });
copyFileSync(require.resolve('sql.js/dist/sql-wasm.wasm'), 'dist/sql-wasm.wasm');

/** @type {esbuild.Plugin} */
const report = {
  name: 'report',
  setup(build) {
    build.onEnd(result => {
      for (const e of result.errors) console.error(`✘ ${e.text}${e.location ? ` (${e.location.file}:${e.location.line})` : ''}`);
      if (watch) console.log(`[watch] build finished with ${result.errors.length} error(s)`);
    });
  },
};

/**
 * Parts that only some commands need, each bundled into its own file beside extension.js and loaded where it
 * is first used (src/core/lazy.ts), so activation does not read them. In the extension's and the API's
 * bundles an `import()` of such a module becomes a `require` of its file; any other import of it fails the
 * build, since it would load the part at activation. `.vscodeignore` ships each file.
 */
const PARTS = {
  'src/core/loop/execute.ts': 'runs.js',
  'src/vscode/dashboardHtml.ts': 'dashboard.js',
  'src/vscode/taskPanel/render.ts': 'taskPanel.js',
  'src/core/app/diagnose.ts': 'diagnose.js',
  'src/core/changesets/patch.ts': 'diff.js',
};

/** @type {esbuild.Plugin} */
const lazyParts = {
  name: 'lazy-parts',
  setup(build) {
    const entries = new Set(Object.keys(PARTS).map(p => path.resolve(p)));
    build.onResolve({ filter: /^\./ }, async args => {
      if (args.pluginData?.lazyParts) return undefined;
      const r = await build.resolve(args.path, { kind: args.kind, importer: args.importer, resolveDir: args.resolveDir, pluginData: { lazyParts: true } });
      if (r.errors.length || !entries.has(r.path) || args.kind === 'entry-point') return r;
      const rel = path.relative('.', r.path).split(path.sep).join('/');
      if (args.kind !== 'dynamic-import') {
        return { errors: [{ text: `${rel} is loaded lazily from dist/${PARTS[rel]}: import it with import() where it is needed, not with a static import` }] };
      }
      return { path: `./${PARTS[rel]}`, external: true };
    });
  },
};

const common = {
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  external: ['vscode'],
  minify: production,
  sourcemap: !production,
  sourcesContent: false,
  logLevel: 'silent',
  metafile: true,
  plugins: [report],
};

// Loaded by the extension: lazy parts stay in their own files, and `import()` is a plain `require`.
const split = { ...common, plugins: [report, lazyParts], supported: { 'dynamic-import': false } };

const contexts = await Promise.all([
  esbuild.context({ ...split, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' }),
  esbuild.context({ ...split, entryPoints: ['src/api/index.ts'], outfile: 'dist/api.js' }),
  ...Object.entries(PARTS).map(([entry, file]) => esbuild.context({ ...split, entryPoints: [entry], outfile: `dist/${file}` })),
  esbuild.context({ ...common, entryPoints: ['src/cli/bin.ts'], outfile: 'dist/cli.js', banner: { js: '#!/usr/bin/env node' } }),
]);

if (watch) {
  await Promise.all(contexts.map(c => c.watch()));
} else {
  const results = await Promise.all(contexts.map(c => c.rebuild()));
  await Promise.all(contexts.map(c => c.dispose()));
  if (results.some(r => r.errors.length)) process.exit(1);
  chmodSync('dist/cli.js', 0o755);
}
