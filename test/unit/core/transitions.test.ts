import * as assert from 'node:assert/strict';
import { AppError } from '../../../src/core/errors';
import { AgentStatus, TaskStatus } from '../../../src/core/model/schemas';
import { assertAgentTransition, assertTaskTransition, canTransitionTask } from '../../../src/core/model/transitions';

describe('state machines', () => {
  const legalTask: Array<[TaskStatus, TaskStatus]> = [
    ['pending', 'in_progress'], ['pending', 'blocked'], ['pending', 'cancelled'], ['blocked', 'pending'],
    ['in_progress', 'completed'], ['in_progress', 'failed'], ['in_progress', 'in_review'], ['in_progress', 'pending'],
    ['in_review', 'completed'], ['in_review', 'pending'], ['failed', 'pending'], ['cancelled', 'pending'],
  ];
  for (const [from, to] of legalTask) {
    it(`task ${from} -> ${to} is allowed`, () => assert.doesNotThrow(() => assertTaskTransition(from, to)));
  }

  const illegalTask: Array<[TaskStatus, TaskStatus]> = [
    ['completed', 'pending'], ['completed', 'failed'], ['pending', 'completed'], ['blocked', 'in_progress'],
    ['cancelled', 'completed'], ['failed', 'completed'], ['pending', 'in_review'], ['pending', 'pending'],
  ];
  for (const [from, to] of illegalTask) {
    it(`task ${from} -> ${to} is an error that names what is allowed`, () => {
      assert.throws(
        () => assertTaskTransition(from, to, 'Write docs'),
        (e: unknown) => AppError.is(e, 'illegal_transition') && e.message.includes('"Write docs"') && /can only become|is final/.test(e.message),
      );
    });
  }

  it('every task status has a defined row', () => {
    for (const from of TaskStatus.options) for (const to of TaskStatus.options) assert.equal(typeof canTransitionTask(from, to), 'boolean');
  });

  it('agent: ready -> busy -> ready, error -> ready; busy cannot go straight from error', () => {
    assert.doesNotThrow(() => assertAgentTransition('ready', 'busy'));
    assert.doesNotThrow(() => assertAgentTransition('busy', 'ready'));
    assert.doesNotThrow(() => assertAgentTransition('error', 'ready'));
    assert.throws(() => assertAgentTransition('error', 'busy', 'Ada'), (e: unknown) => AppError.is(e, 'illegal_transition') && e.message.includes('Ada'));
    assert.throws(() => assertAgentTransition('offline', 'busy'), /can only become ready, error/);
    for (const s of AgentStatus.options) assert.doesNotThrow(() => assertAgentTransition(s, s));
  });
});
