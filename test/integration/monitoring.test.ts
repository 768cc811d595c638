import * as assert from 'assert';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import type { Ai2aiApi } from '../../src/extension';
import { startFakeOllama, type FakeOllama } from '../fake-ollama/server';
import { addFunctionScenario, asText } from '../fake-ollama/scenarios';
import { activate, until } from './helpers';

describe('Monitoring: status bar, dashboard, notifications, Diagnose', function () {
  this.timeout(120_000);
  let api: Ai2aiApi;
  let core: Core;
  let fake: FakeOllama;

  before(async () => {
    api = await activate();
    core = await api.ready;
    fake = await startFakeOllama();
    core.providers.edit('ollama-local', { baseUrl: fake.url });
    await core.providers.check('ollama-local', AbortSignal.timeout(5000));
  });
  after(async () => {
    await vscode.commands.executeCommand('workbench.action.closeAllEditors');
    await fake?.close();
  });

  it('the status bar counts follow a run, the dashboard updates when it ends, and a notification says so', async () => {
    const agent = await core.agents.create({ name: 'Monitored', role: 'developer', skills: ['javascript'], model: 'gemma3:1b' });
    const task = core.tasks.create({ title: 'Watched task', description: 'src/add.js exporting add(a, b), with tests', assigneeId: agent.id, reviewRequired: false });
    await until('the status bar to count the queued task', () => api.status.counts.queued >= 1);
    const queuedBefore = api.status.counts.queued;
    assert.match(api.status.item.text, /0 running · \d+ queued/);
    assert.equal(api.status.item.command, 'ai2ai.openDashboard');

    await vscode.commands.executeCommand('ai2ai.openDashboard');
    assert.ok(api.dashboard.visible, 'the dashboard panel is open');
    assert.match(api.dashboard.lastBody, /Monitored/);
    const rendersBefore = api.dashboard.renders;

    // Slow replies so the run is seen running; started by the core (an automatic run), not by the Run Task flow.
    fake.script('gemma3:1b', ...addFunctionScenario().map(a => ({ ...asText(a), pieceDelayMs: 15 })));
    const running = core.app.runTask(task.id);
    await until('the status bar to show the run', () => api.status.counts.running === 1 && /1 running/.test(api.status.item.text), 10_000);
    assert.equal(api.status.counts.queued, queuedBefore - 1);
    const run = await running;
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    await until('the status bar back to 0 running', () => api.status.counts.running === 0, 5000);

    // The dashboard re-rendered from the change feed (throttled), showing the agent's finished run.
    await until('the dashboard to show the completed run', () => api.dashboard.renders > rendersBefore && /1\/1 · 100%/.test(api.dashboard.lastBody), 5000);
    await until('the notification of the completion', () => api.notifications.shown.some(m => /Monitored completed "Watched task"/.test(m)), 5000);

    // The export holds the same numbers as the page.
    const doc = await api.dashboard.export('json');
    const json = JSON.parse(doc!.getText()) as { agents: Array<{ name: string; completed: number; promptTokens: number }> };
    const mine = json.agents.find(a => a.name === 'Monitored')!;
    assert.equal(mine.completed, 1);
    assert.ok(mine.promptTokens > 0);
  });

  it('Diagnose reports a healthy provider and an offline one, and the status bar warns about the offline one', async () => {
    const down = core.providers.create({ kind: 'ollama', name: 'Nowhere', baseUrl: 'http://127.0.0.1:9' });
    const stranded = await core.agents.create({ name: 'Stranded', role: 'developer', skills: ['javascript'], model: 'gemma3:1b', providerId: down.id });
    try {
      await vscode.commands.executeCommand('ai2ai.diagnose');
      const report = api.lastDiagnosis ?? '';
      const section = (name: string) => report.split('### ').find(s => s.startsWith(name)) ?? '';
      assert.match(section('Ollama (this machine)'), /Reachable: yes/);
      assert.match(section('Ollama (this machine)'), /Version: /);
      assert.match(section('Ollama (this machine)'), /\| gemma3:1b \| [^|]*Monitored[^|]* \| yes \| 8192 \|/);
      assert.match(section('Nowhere'), /Reachable: \*\*no\*\*/);
      assert.match(section('Nowhere'), /\| gemma3:1b \| Stranded \| unknown \|/);
      assert.match(report, /## What to fix[\s\S]*Nowhere \(http:\/\/127\.0\.0\.1:9\) is not reachable[\s\S]*## Model providers/);
      assert.match(report, /Integrity check \(quick_check\): ok/);
      assert.match(report, /## Workspace folders\n\n- \//);
      assert.match(report, /Platform: \w+; sandbox tool/);
      const editor = vscode.window.activeTextEditor;
      assert.equal(editor?.document.languageId, 'markdown');
      assert.match(editor!.document.getText(), /# AI2AI Diagnose/);
      await until('the status bar to warn about the offline provider', () => api.status.counts.offline.includes('Nowhere') && /Nowhere offline/.test(api.status.item.text), 5000);
      assert.ok(api.status.item.backgroundColor, 'the warning background');
    } finally {
      await core.agents.delete(stranded.id);
      core.providers.delete(down.id);
    }
    await until('the warning gone with the provider', () => !api.status.counts.offline.length, 5000);
  });

  it('notifications are coalesced, and follow ai2ai.notifications.show', async () => {
    const agent = core.agents.findByName('Monitored')!;
    const tasks = [1, 2, 3].map(i => core.tasks.create({ title: `Reviewed ${i}`, assigneeId: agent.id }));
    let n = 0;
    const verdicts = (verdict: string) =>
      core.store.mutate(tx => {
        for (const t of tasks) {
          const id = `it-review-${++n}`;
          tx.run(`INSERT INTO reviews (id, task_id, round, author_id, reviewer_id, reviewer_name, verdict, created_at) VALUES (?, ?, 1, ?, NULL, 'Critic', ?, ?)`, [id, t.id, agent.id, verdict, Date.now()]);
          tx.changed({ entity: 'review', op: 'created', id, taskId: t.id });
        }
      });
    const config = vscode.workspace.getConfiguration('ai2ai');
    try {
      // Three verdicts at once: one message, not three.
      const before = api.notifications.shown.length;
      verdicts('approve');
      await until('one summary for the three verdicts', () => api.notifications.shown.length > before, 5000);
      await new Promise(r => setTimeout(r, 2000));
      assert.deepEqual(api.notifications.shown.slice(before), ['AI2AI: 3 review verdicts.']);
      // Failures only: approvals and change requests of tasks still open are not failures.
      await config.update('notifications.show', 'failures', vscode.ConfigurationTarget.Global);
      const mid = api.notifications.shown.length;
      verdicts('request_changes');
      await new Promise(r => setTimeout(r, 2500));
      assert.equal(api.notifications.shown.length, mid);
      await config.update('notifications.show', 'none', vscode.ConfigurationTarget.Global);
      verdicts('approve');
      await new Promise(r => setTimeout(r, 2500));
      assert.equal(api.notifications.shown.length, mid);
    } finally {
      await config.update('notifications.show', undefined, vscode.ConfigurationTarget.Global);
    }
  });
});
