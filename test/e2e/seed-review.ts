/**
 * Seeds a board with a task that went through review: round 1 sent back by the reviewer agent with findings,
 * round 2 waiting for it again. For the end-to-end check that screenshots a task's details.
 *   node out/test/e2e/seed-review.js <globalStorageDir> <workspaceDir>
 */
import { runSeed } from './seedCore';
import { applyVerdictTx, startReviewTx } from '../../src/core/app/review';
import { transitionTx } from '../../src/core/tasks/taskService';

runSeed('seed-review', async core => {
  const ada = core.agents.findByName('Ada') ?? (await core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript'], model: 'gemma3:1b' }));
  const critic = core.agents.findByName('Critic') ?? (await core.agents.create({ name: 'Critic', role: 'reviewer', skills: ['review'], model: 'deepseek-coder-v2:16b' }));
  if (!core.tasks.list().some(t => t.title === 'Write the add function')) {
    const task = core.tasks.create({ title: 'Write the add function', description: 'src/add.js exporting add(a, b), with tests', requiredSkills: ['javascript'], priority: 2, assigneeId: ada.id });
    const now = Date.now();
    core.tasks.transition(task.id, 'in_progress');
    core.store.mutate(tx => {
      const { reviewTaskId } = startReviewTx(tx, task.id, 'Added add(a, b) in src/add.js with two tests.', now);
      // Critic did the first review: its review task is done, with this verdict.
      transitionTx(tx, reviewTaskId!, 'in_progress', { assigneeId: critic.id }, now);
      transitionTx(tx, reviewTaskId!, 'completed', { result: 'Close, but negative numbers are wrong.' }, now);
      applyVerdictTx(tx, {
        taskId: task.id, reviewTaskId, reviewerId: critic.id, reviewerName: 'Critic', verdict: 'request_changes', now, maxRounds: 3,
        summary: 'Close, but negative numbers are wrong.',
        findings: [
          { file: 'src/add.js', line: 3, severity: 'major', comment: 'subtracts instead of adding: use a + b' },
          { file: 'tests/add.test.js', severity: 'minor', comment: 'add a test with negative numbers' },
        ],
      });
    });
    core.tasks.transition(task.id, 'in_progress');
    core.store.mutate(tx => startReviewTx(tx, task.id, 'Fixed the sign and added a test for negatives.', now + 1000));
  }
});
