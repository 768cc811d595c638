import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { AppError } from '../../../src/core/errors';
import { loadPart } from '../../../src/core/lazy';

describe('parts loaded on first use', () => {
  it('loads the part', async () => {
    const m = await loadPart('the agent runner', () => import('../../../src/core/loop/execute'));
    assert.equal(typeof m.RunEngine, 'function');
  });

  it('a missing file says which part and what to do, not just "Cannot find module"', async () => {
    const missing = path.join(__dirname, 'no-such-part.js');
    await assert.rejects(
      loadPart('the dashboard', () => Promise.resolve().then(() => require(missing))),
      (e: unknown) => {
        assert.ok(AppError.is(e, 'internal'));
        assert.match(e.message, /^AI2AI could not load the dashboard: a file of the extension is missing \(Cannot find module '.*no-such-part\.js'\)\. Reinstall the AI2AI extension\.$/);
        return true;
      },
    );
  });

  it('any other failure is passed on as it is', async () => {
    const boom = new Error('boom');
    await assert.rejects(loadPart('the dashboard', () => Promise.reject(boom)), e => e === boom);
  });
});
