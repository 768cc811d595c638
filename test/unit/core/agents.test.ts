import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import type { CoreChange } from '../../../src/core/changes';
import { tempCore, type TempCore } from './helpers';

describe('AgentService', () => {
  let t: TempCore;
  beforeEach(async () => (t = await tempCore()));
  afterEach(() => t.cleanup());

  it('creates an agent, its folder with src/ tests/ docs/ README, and fires one change', async () => {
    const seen: CoreChange[] = [];
    t.core.changes.event(c => seen.push(c));
    const a = await t.core.agents.create({ name: 'Ada Lovelace', role: 'developer', skills: ['TypeScript', 'testing', 'typescript'], model: 'gemma3:1b' });
    assert.equal(a.workspace, 'agents/ada-lovelace');
    assert.deepEqual(a.skills, ['typescript', 'testing']);
    assert.equal(a.status, 'ready');
    for (const sub of ['src', 'tests', 'docs']) assert.ok(fs.statSync(path.join(t.workspaceDir, 'agents/ada-lovelace', sub)).isDirectory());
    assert.match(fs.readFileSync(path.join(t.workspaceDir, 'agents/ada-lovelace/README.md'), 'utf8'), /Ada Lovelace/);
    assert.equal(seen.length, 1);
    assert.equal(seen[0].origin, 'local');
    assert.deepEqual(seen[0].changes, [{ entity: 'agent', op: 'created', id: a.id }]);
    const again = await t.reopen();
    assert.deepEqual(again.agents.get(a.id), a);
  });

  it('honours the agents root setting and maps to an existing folder without overwriting it', async () => {
    t.settings.agentsRoot = 'team';
    const a = await t.core.agents.create({ name: 'Bob', role: 'tester', model: 'gemma3:1b' });
    assert.equal(a.workspace, 'team/bob');
    fs.mkdirSync(path.join(t.workspaceDir, 'existing'));
    fs.writeFileSync(path.join(t.workspaceDir, 'existing/README.md'), 'mine');
    const b = await t.core.agents.create({ name: 'Cy', role: 'writer', model: 'gemma3:1b', workspace: './existing/' });
    assert.equal(b.workspace, 'existing');
    assert.equal(fs.readFileSync(path.join(t.workspaceDir, 'existing/README.md'), 'utf8'), 'mine');
    assert.ok(fs.existsSync(path.join(t.workspaceDir, 'existing/src')));
  });

  it('refuses bad input with a clear message and stores nothing', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ name: '', role: 'dev', model: 'm' }, /name/i],
      [{ name: '../evil', role: 'dev', model: 'm' }, /letters, digits/],
      [{ name: 'Ok', role: '', model: 'm' }, /role/i],
      [{ name: 'Ok', role: 'dev', model: 'has space' }, /no spaces/],
      [{ name: 'Ok', role: 'dev', model: 'm', skills: ['two words'] }, /one word/],
      [{ name: 'Ok', role: 'dev', model: 'm', workspace: '../outside' }, /outside the workspace/],
      [{ name: 'Ok', role: 'dev', model: 'm', workspace: '/etc' }, /relative/],
      [{ name: 'Ok', role: 'dev', model: 'm', providerId: 'nope' }, /no model provider/],
    ];
    for (const [input, msg] of cases) {
      await assert.rejects(t.core.agents.create(input as never), (e: unknown) => AppError.is(e) && msg.test(e.message), JSON.stringify(input));
    }
    assert.equal(t.core.agents.list().length, 0);
    assert.ok(!fs.existsSync(path.join(t.workspaceDir, '..', 'outside')));
  });

  it('refuses a duplicate name, case-insensitively', async () => {
    await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    await assert.rejects(t.core.agents.create({ name: 'ada', role: 'dev', model: 'm' }), /already exists/);
  });

  it('refuses to create an agent when no folder is open', async () => {
    const t2 = await tempCore();
    try {
      (t2.core.workspaces as unknown as { folders: { folders(): string[] } }).folders = { folders: () => [] };
      await assert.rejects(t2.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' }), /Open a folder first/);
      assert.equal(t2.core.agents.list().length, 0);
    } finally {
      t2.cleanup();
    }
  });

  it('edits, disables, enables and deletes; deleting keeps the folder and unassigns tasks', async () => {
    const a = await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    const b = await t.core.agents.create({ name: 'Bea', role: 'dev', model: 'm' });
    await assert.rejects(t.core.agents.edit(a.id, { name: 'bea' }), /already exists/);
    const edited = await t.core.agents.edit(a.id, { role: 'reviewer', skills: ['review'], model: 'deepseek-coder-v2:16b' });
    assert.equal(edited.role, 'reviewer');
    assert.deepEqual(t.core.agents.get(a.id).skills, ['review']);
    assert.equal(t.core.agents.setEnabled(a.id, false).status, 'offline');
    assert.equal(t.core.agents.get(a.id).enabled, false);
    assert.equal(t.core.agents.setEnabled(a.id, true).status, 'ready');
    const task = t.core.tasks.create({ title: 'x', assigneeId: a.id });
    t.core.agents.delete(a.id);
    assert.equal(t.core.agents.find(a.id), undefined);
    assert.equal(t.core.tasks.get(task.id).assigneeId, null);
    assert.ok(fs.existsSync(path.join(t.workspaceDir, 'agents/ada/README.md')));
    assert.ok(t.core.agents.find(b.id));
  });

  it('refuses to delete or disable an agent while it works', async () => {
    const a = await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    const task = t.core.tasks.create({ title: 'work', assigneeId: a.id });
    t.core.tasks.transition(task.id, 'in_progress');
    t.core.agents.setStatus(a.id, 'busy');
    assert.throws(() => t.core.agents.delete(a.id), /working on "work"/);
    assert.throws(() => t.core.agents.setEnabled(a.id, false), /busy/);
    assert.doesNotThrow(() => t.core.agents.setStatus(a.id, 'busy')); // staying busy is no change
    t.core.agents.setStatus(a.id, 'error', 'model not found');
    assert.throws(() => t.core.agents.setStatus(a.id, 'busy'), (e: unknown) => AppError.is(e, 'illegal_transition'));
    assert.equal(t.core.agents.get(a.id).statusReason, 'model not found');
  });
});
