import * as assert from 'node:assert/strict';
import { AppError } from '../../../src/core/errors';
import { tempCore, type TempCore } from './helpers';

describe('TaskService', () => {
  let t: TempCore;
  beforeEach(async () => (t = await tempCore()));
  afterEach(() => t.cleanup());

  it('creates a pending task with defaults and a status update, survives reopen', async () => {
    const task = t.core.tasks.create({ title: '  Write the add function ', requiredSkills: ['JavaScript'] });
    assert.equal(task.title, 'Write the add function');
    assert.equal(task.status, 'pending');
    assert.equal(task.priority, 1);
    assert.deepEqual(task.requiredSkills, ['javascript']);
    assert.equal(t.core.activity.updates(task.id)[0].body, 'Created as pending');
    const again = await t.reopen();
    assert.deepEqual(again.tasks.get(task.id), task);
  });

  it('validates input', () => {
    assert.throws(() => t.core.tasks.create({ title: '' }), /title/);
    assert.throws(() => t.core.tasks.create({ title: 'x', priority: 9 }), (e: unknown) => AppError.is(e, 'validation'));
    assert.throws(() => t.core.tasks.create({ title: 'x', dependsOn: ['missing'] }), /no longer exists/);
    assert.throws(() => t.core.tasks.create({ title: 'x', assigneeId: 'ghost' }), /agent no longer exists/);
    assert.equal(t.core.tasks.list().length, 0);
  });

  it('blocks on unfinished dependencies and unblocks when they complete', () => {
    const a = t.core.tasks.create({ title: 'A' });
    const b = t.core.tasks.create({ title: 'B', dependsOn: [a.id] });
    assert.equal(b.status, 'blocked');
    assert.throws(() => t.core.tasks.transition(b.id, 'in_progress'), (e: unknown) => AppError.is(e, 'illegal_transition'));
    t.core.tasks.transition(a.id, 'in_progress');
    t.core.tasks.transition(a.id, 'completed', { result: 'done' });
    assert.equal(t.core.tasks.get(b.id).status, 'pending');
    assert.deepEqual(t.core.tasks.get(b.id).dependsOn, [a.id]);
  });

  it('refuses dependency cycles and self-dependency', () => {
    const a = t.core.tasks.create({ title: 'A' });
    const b = t.core.tasks.create({ title: 'B', dependsOn: [a.id] });
    const c = t.core.tasks.create({ title: 'C', dependsOn: [b.id] });
    assert.throws(() => t.core.tasks.setDependencies(a.id, [c.id]), /cycle/);
    assert.throws(() => t.core.tasks.setDependencies(a.id, [a.id]), /itself/);
    assert.deepEqual(t.core.tasks.get(a.id).dependsOn, []);
  });

  it('deleting a dependency unblocks its dependents', () => {
    const a = t.core.tasks.create({ title: 'A' });
    const b = t.core.tasks.create({ title: 'B', dependsOn: [a.id] });
    t.core.tasks.delete(a.id);
    assert.equal(t.core.tasks.get(b.id).status, 'pending');
    assert.deepEqual(t.core.tasks.get(b.id).dependsOn, []);
  });

  it('cancel, retry, and lifecycle fields', () => {
    const task = t.core.tasks.create({ title: 'A' });
    const started = t.core.tasks.transition(task.id, 'in_progress');
    assert.equal(started.attempts, 1);
    assert.ok(started.startedAt);
    assert.throws(() => t.core.tasks.delete(task.id), /Cancel it first/);
    const cancelled = t.core.tasks.cancel(task.id);
    assert.equal(cancelled.status, 'cancelled');
    assert.equal(cancelled.failureReason, 'Cancelled by user');
    const retried = t.core.tasks.retry(task.id);
    assert.equal(retried.status, 'pending');
    assert.equal(retried.failureReason, null);
    t.core.tasks.transition(task.id, 'in_progress');
    t.core.tasks.transition(task.id, 'failed', { failureReason: 'tests failed' });
    assert.equal(t.core.tasks.get(task.id).attempts, 2);
    t.core.tasks.transition(task.id, 'pending');
    t.core.tasks.transition(task.id, 'in_progress');
    t.core.tasks.transition(task.id, 'completed', { result: 'ok' });
    assert.throws(() => t.core.tasks.retry(task.id), /completed is final/i);
    assert.throws(() => t.core.tasks.cancel(task.id), (e: unknown) => AppError.is(e, 'illegal_transition'));
    const kinds = t.core.activity.updates(task.id).map(u => u.body);
    assert.ok(kinds.includes('in_progress → completed'), kinds.join('\n'));
  });

  it('assigns, reassigns failed work back to pending, and refuses running tasks', async () => {
    const ada = await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    const task = t.core.tasks.create({ title: 'A' });
    assert.equal(t.core.tasks.assign(task.id, ada.id).assigneeId, ada.id);
    t.core.tasks.transition(task.id, 'in_progress');
    assert.throws(() => t.core.tasks.assign(task.id, null), /can be reassigned only/);
    t.core.tasks.transition(task.id, 'failed', { failureReason: 'x' });
    const again = t.core.tasks.assign(task.id, ada.id);
    assert.equal(again.status, 'pending');
    assert.equal(t.core.tasks.get(task.id).failureReason, null);
    assert.ok(t.core.activity.updates(task.id).some(u => u.body === 'Assigned to Ada'));
  });

  it('edits only title and priority while running', () => {
    const task = t.core.tasks.create({ title: 'A' });
    t.core.tasks.transition(task.id, 'in_progress');
    assert.equal(t.core.tasks.edit(task.id, { title: 'B', priority: 3 }).priority, 3);
    assert.throws(() => t.core.tasks.edit(task.id, { description: 'more' }), /Only its title and priority/);
  });

  it('lists by status, most urgent first', () => {
    t.core.tasks.create({ title: 'low', priority: 0 });
    t.core.tasks.create({ title: 'urgent', priority: 3 });
    const x = t.core.tasks.create({ title: 'x' });
    t.core.tasks.cancel(x.id);
    assert.deepEqual(t.core.tasks.list({ status: ['pending'] }).map(t => t.title), ['urgent', 'low']);
  });
});

describe('ActivityService', () => {
  let t: TempCore;
  beforeEach(async () => (t = await tempCore()));
  afterEach(() => t.cleanup());

  it('appends updates and passes messages between agents, broadcast included', async () => {
    const a = await t.core.agents.create({ name: 'Ada', role: 'dev', model: 'm' });
    const b = await t.core.agents.create({ name: 'Bea', role: 'reviewer', model: 'm' });
    const task = t.core.tasks.create({ title: 'A' });
    t.core.activity.appendUpdate({ taskId: task.id, agentId: a.id, kind: 'plan', body: '1. write 2. test' });
    assert.throws(() => t.core.activity.appendUpdate({ taskId: task.id, kind: 'nonsense' as never, body: 'x' }), (e: unknown) => AppError.is(e, 'validation'));
    assert.throws(() => t.core.activity.appendUpdate({ taskId: 'gone', kind: 'plan', body: 'x' }), /no longer exists/);
    const m1 = t.core.activity.send({ fromAgent: a.id, toAgent: b.id, taskId: task.id, body: 'please review' });
    t.core.activity.send({ fromAgent: b.id, body: 'to everyone' });
    assert.deepEqual(t.core.activity.inbox(b.id).map(m => m.body), ['please review']);
    assert.deepEqual(t.core.activity.inbox(a.id).map(m => m.body), ['to everyone']);
    t.core.activity.markRead([m1.id]);
    assert.equal(t.core.activity.inbox(b.id, { unreadOnly: true }).length, 0);
    assert.equal(t.core.activity.messagesForTask(task.id).length, 1);
    assert.equal(t.core.activity.updates(task.id).filter(u => u.kind === 'plan').length, 1);
  });
});
