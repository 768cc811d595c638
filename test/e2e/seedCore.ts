/**
 * What every seed script shares: the core the extension runs, opened on the globalStorage and workspace
 * folders given as arguments (`node out/test/e2e/<seed>.js <globalStorageDir> <workspaceDir>`), closed after
 * `seed` ran, with the outcome printed; a failure exits non-zero with its message.
 */
import { openCore, type Core } from '../../src/core';

export function runSeed(name: string, seed: (core: Core) => Promise<void>): void {
  const [storageDir, workspaceDir] = process.argv.slice(2);
  (async () => {
    if (!storageDir || !workspaceDir) throw new Error(`usage: ${name}.js <globalStorageDir> <workspaceDir>`);
    const core = await openCore({
      storageDir,
      wasmPath: require.resolve('sql.js/dist/sql-wasm.wasm'),
      workspaceFolders: { folders: () => [workspaceDir] },
      settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20 }),
      watch: false,
      schedule: false,
    });
    try {
      await seed(core);
      process.stdout.write(`seeded ${core.agents.list().length} agent(s), ${core.tasks.list().length} task(s) in ${storageDir}\n`);
    } finally {
      await core.close();
    }
  })().catch(e => {
    process.stderr.write(`seed failed: ${e instanceof Error ? e.stack : String(e)}\n`);
    process.exit(1);
  });
}
