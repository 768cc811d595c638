/**
 * Seeds the extension's database (in its globalStorage folder) before the UI check opens VS Code, with
 * the same core code the extension runs: one agent and two tasks.
 *   node out/test/e2e/seed.js <globalStorageDir> <workspaceDir>
 */
import { openCore } from '../../src/core';

async function main(): Promise<void> {
  const [storageDir, workspaceDir] = process.argv.slice(2);
  if (!storageDir || !workspaceDir) throw new Error('usage: seed.js <globalStorageDir> <workspaceDir>');
  const core = await openCore({
    storageDir,
    wasmPath: require.resolve('sql.js/dist/sql-wasm.wasm'),
    workspaceFolders: { folders: () => [workspaceDir] },
    settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20 }),
    watch: false,
  });
  try {
    const ada = core.agents.findByName('Ada') ?? (await core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript', 'testing'], model: 'gemma3:1b' }));
    if (!core.tasks.list().some(t => t.title === 'Write the add function')) {
      core.tasks.create({ title: 'Write the add function', description: 'src/add.js exporting add(a, b), with tests', requiredSkills: ['javascript'], priority: 2, assigneeId: ada.id });
      core.tasks.create({ title: 'Document the API', requiredSkills: ['docs'] });
    }
    process.stdout.write(`seeded ${core.agents.list().length} agent(s), ${core.tasks.list().length} task(s) in ${storageDir}\n`);
  } finally {
    core.dispose();
  }
}

main().catch(e => {
  process.stderr.write(`seed failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
