/**
 * Seeds a team's history for the dashboard's UI check: three agents on two models, with finished runs
 * (tokens, model time, prompt-cache hits), review verdicts, a failure and a run in progress.
 *   node out/test/e2e/seed-dashboard.js <globalStorageDir> <workspaceDir>
 */
import { runSeed } from './seedCore';

runSeed('seed-dashboard', async core => {
  if (core.agents.findByName('Ada')) return;
  const ada = await core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript', 'testing'], model: 'gemma3:1b' });
  const bea = await core.agents.create({ name: 'Bea', role: 'developer', skills: ['python'], model: 'qwen2.5-coder:7b' });
  const cyd = await core.agents.create({ name: 'Cyd', role: 'reviewer', skills: ['review'], model: 'qwen2.5-coder:7b' });
  const now = Date.now();
  const H = 3_600_000;
  const team = [ada, bea, cyd];
  core.store.mutate(tx => {
    for (let i = 0; i < 36; i++) {
      const a = team[i % 3];
      const skills = a === ada ? '["javascript"]' : a === bea ? '["python"]' : '["review"]';
      const status = i === 34 ? 'in_progress' : i % 7 === 3 ? 'failed' : i === 35 ? 'pending' : 'completed';
      const t = now - (36 - i) * (H / 4);
      tx.run(
        `INSERT INTO tasks (id, title, description, required_skills, priority, status, assignee_id, attachments, attempts, created_at, updated_at, completed_at, review_round, review_of)
         VALUES (?, ?, '', ?, 1, ?, ?, '[]', 0, ?, ?, ?, ?, ?)`,
        [`seed-${i}`, `${['Parser', 'API route', 'Review of the cache'][i % 3]} #${i}`, skills, status, a.id, t, t + 600_000, status === 'completed' ? t + 600_000 : null, a === cyd ? 0 : 1 + (i % 2), a === cyd ? `seed-${i - 2}` : null],
      );
      if (status === 'pending') continue;
      const running = status === 'in_progress';
      const prompt = 6000 + 400 * i, cached = a === ada ? Math.round(prompt * 0.72) : a === bea ? Math.round(prompt * 0.35) : Math.round(prompt * 0.55);
      tx.run(
        `INSERT INTO runs (id, task_id, agent_id, started_at, ended_at, outcome, steps, prompt_tokens, completion_tokens, cached_tokens, model_ms, provider_id, model, error_kind)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ollama-local', ?, ?)`,
        [`seed-run-${i}`, `seed-${i}`, a.id, t, running ? null : t + 540_000, running ? 'running' : status === 'failed' ? 'failed' : 'completed', 6 + (i % 5),
          running ? 0 : prompt, running ? 0 : 900 + 20 * i, running ? 0 : cached, running ? 0 : 25_000 + 1000 * (i % 4), a.model, status === 'failed' ? 'step_limit' : null],
      );
      if (a !== cyd && status === 'completed') {
        tx.run(`INSERT INTO reviews (id, task_id, round, author_id, reviewer_id, reviewer_name, verdict, created_at) VALUES (?, ?, 1, ?, ?, 'Cyd', ?, ?)`,
          [`seed-rev-${i}`, `seed-${i}`, a.id, cyd.id, i % 4 === 1 ? 'request_changes' : 'approve', t + 580_000]);
      }
    }
    tx.run(`UPDATE agents SET status = 'busy' WHERE id = ?`, [team[34 % 3].id]);
  });
});
