/**
 * Seeds the extension's database (in its globalStorage folder) before the UI check opens VS Code, with
 * the same core code the extension runs: one agent and two tasks.
 *   node out/test/e2e/seed.js <globalStorageDir> <workspaceDir>
 */
import { runSeed } from './seedCore';

runSeed('seed', async core => {
  const ada = core.agents.findByName('Ada') ?? (await core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript', 'testing'], model: 'gemma3:1b' }));
  if (!core.tasks.list().some(t => t.title === 'Write the add function')) {
    core.tasks.create({ title: 'Write the add function', description: 'src/add.js exporting add(a, b), with tests', requiredSkills: ['javascript'], priority: 2, assigneeId: ada.id });
    core.tasks.create({ title: 'Document the API', requiredSkills: ['docs'] });
  }
});
