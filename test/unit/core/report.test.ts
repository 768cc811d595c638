import * as assert from 'node:assert/strict';
import { renderTaskReport } from '../../../src/core/tasks/report';
import { tempCore, type TempCore } from './helpers';

describe('task report', () => {
  let t: TempCore;
  beforeEach(async () => (t = await tempCore()));
  afterEach(() => t.cleanup());

  it('tells the whole story: status, result, runs, messages and every update', async () => {
    const ada = await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    const bea = await t.core.agents.create({ name: 'Bea', role: 'reviewer', model: 'm' });
    const dep = t.core.tasks.create({ title: 'Set up' });
    const task = t.core.tasks.create({ title: 'Write | add', description: 'line one\nline two', requiredSkills: ['js'], assigneeId: ada.id, dependsOn: [dep.id], testCommand: 'npm test' });
    t.core.activity.appendUpdate({ taskId: task.id, agentId: ada.id, kind: 'plan', body: 'first\nthen' });
    t.core.activity.send({ fromAgent: ada.id, toAgent: bea.id, taskId: task.id, body: 'please review' });
    const md = renderTaskReport(t.core.app.taskDetails(task.id));
    assert.match(md, /^# Write \| add\n/);
    assert.match(md, /\*\*blocked\*\* · priority normal · assigned to Ada/);
    assert.match(md, /Waits for: Set up \(pending\)/);
    assert.match(md, /Test command: `npm test`/);
    assert.match(md, /## Description\n\nline one\nline two/);
    assert.match(md, /\*\*Ada\*\* → Bea: please review/);
    assert.match(md, /`plan` Ada: first ⏎ then/);
    assert.match(md, /`status`: Created as blocked/);
    assert.doesNotMatch(md, /## Runs/);
  });
});
