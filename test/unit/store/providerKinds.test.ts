import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { MIGRATIONS } from '../../../src/core/store/migrations';
import { openStore } from '../../../src/core/store/sqlite';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');

describe("migration 8: a provider kind for VS Code's models", () => {
  it('rebuilds the providers table on a database with agents, keeping every row and the foreign keys', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-mig6-'));
    try {
      const old = await openStore({ dir, wasmPath: WASM, watch: false }, undefined, MIGRATIONS.filter(m => m.version <= 7));
      old.mutate(tx => {
        tx.run(`INSERT INTO providers (id, kind, name, base_url, max_concurrency, created_at) VALUES ('p2', 'openai', 'vLLM', 'http://127.0.0.1:8000/v1', 4, 5)`);
        tx.run(`INSERT INTO agents (id, name, role, provider_id, model, workspace, created_at, updated_at) VALUES ('a1', 'Ada', 'dev', 'p2', 'm', 'agents/ada', 1, 1)`);
      });
      assert.throws(() => old.mutate(tx => tx.run(`INSERT INTO providers (id, kind, name, base_url, created_at) VALUES ('v', 'vscode', 'VS Code', 'vscode://lm', 1)`)), /CHECK/);
      old.close();
      const store = await openStore({ dir, wasmPath: WASM, watch: false });
      assert.deepEqual(store.read.all('SELECT id, kind, max_concurrency FROM providers ORDER BY id'), [
        { id: 'ollama-local', kind: 'ollama', max_concurrency: 1 },
        { id: 'p2', kind: 'openai', max_concurrency: 4 },
      ]);
      store.mutate(tx => tx.run(`INSERT INTO providers (id, kind, name, base_url, created_at) VALUES ('v', 'vscode', 'VS Code', 'vscode://lm', 1)`));
      assert.equal(store.read.get<{ provider_id: string }>(`SELECT provider_id FROM agents WHERE id = 'a1'`)?.provider_id, 'p2');
      assert.throws(() => store.mutate(tx => tx.run(`DELETE FROM providers WHERE id = 'p2'`)), /FOREIGN KEY/, 'agents still reference providers');
      assert.throws(() => store.mutate(tx => tx.run(`INSERT INTO providers (id, kind, name, base_url, created_at) VALUES ('x', 'other', 'x', 'x', 1)`)), /CHECK/);
      store.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
