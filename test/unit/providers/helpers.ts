/** Shared test helpers for the provider tests (which all run against the fake over real HTTP). */
import * as assert from 'node:assert/strict';
import { ProviderError, ProviderErrorKind } from '../../../src/core/providers/errors';

/** Awaits a rejection and checks it is a ProviderError of `kind`; returns it for more checks. */
export async function rejectsWith(p: Promise<unknown>, kind: ProviderErrorKind): Promise<ProviderError> {
  try {
    await p;
  } catch (e) {
    assert.ok(ProviderError.isProviderError(e), `expected a ProviderError, got ${String(e)}`);
    assert.equal(e.kind, kind, `expected kind ${kind}, got ${e.kind}: ${e.message}`);
    assert.equal(e.reason, 'provider');
    return e;
  }
  assert.fail(`expected a ProviderError of kind ${kind}, but the call succeeded`);
}

/** Resolves with the time `p` took to settle (ms), whatever the outcome. */
export async function settleTime(p: Promise<unknown>): Promise<number> {
  const t0 = Date.now();
  await p.catch(() => undefined);
  return Date.now() - t0;
}

export const sleep = (ms: number) => new Promise(r => setTimeout(r, ms));
