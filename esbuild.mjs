// Bundles the extension into dist/extension.js, the local API (loaded by the extension only when it is
// turned on) into dist/api.js, and the headless server (`ai2ai serve`) into dist/cli.js, and copies
// sql.js's wasm beside them.
//   node esbuild.mjs               development build with source maps
//   node esbuild.mjs --production  minified, no source maps (what `npm run package` ships)
//   node esbuild.mjs --watch       rebuild on change
import * as esbuild from 'esbuild';
import { chmodSync, copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';

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

const contexts = await Promise.all([
  esbuild.context({ ...common, entryPoints: ['src/extension.ts'], outfile: 'dist/extension.js' }),
  esbuild.context({ ...common, entryPoints: ['src/api/index.ts'], outfile: 'dist/api.js' }),
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
