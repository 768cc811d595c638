import * as assert from 'node:assert/strict';
import { renderDiagnosis } from '../../../src/core/app/diagnose';
import { OllamaProvider } from '../../../src/core/providers/ollama';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { tempCore, type TempCore } from '../core/helpers';

describe('diagnose: providers, database, sandbox, folders, with what to fix', () => {
  let t: TempCore;
  let fake: FakeOllama;

  beforeEach(async () => {
    fake = await startFakeOllama();
    t = await tempCore({}, { schedule: false });
    t.core.providers.edit('ollama-local', { baseUrl: fake.url });
  });
  afterEach(async () => {
    t.cleanup();
    await fake.close();
  });

  it('a healthy provider, an offline one, a missing model and a smaller context than num_ctx', async () => {
    await t.core.agents.create({ name: 'Ada', role: 'developer', model: 'gemma3:1b' });
    await t.core.agents.create({ name: 'Bob', role: 'developer', model: 'no-such-model:1b' });
    const down = t.core.providers.create({ kind: 'ollama', name: 'Nowhere', baseUrl: 'http://127.0.0.1:9' });
    await t.core.agents.create({ name: 'Cyd', role: 'developer', model: 'gemma3:1b', providerId: down.id });
    // Another client loaded gemma3:1b with a 2,048-token context.
    await new OllamaProvider({ baseUrl: fake.url }).chat({ model: 'gemma3:1b', messages: [{ role: 'user', content: 'hi' }], options: { numCtx: 2048 } }, AbortSignal.timeout(10_000));

    const d = await t.core.diagnose(AbortSignal.timeout(10_000));
    const local = d.providers.find(p => p.provider.id === 'ollama-local')!;
    assert.equal(local.reachable, true);
    assert.ok(local.version);
    assert.ok(local.models.includes('gemma3:1b'));
    const gemma = local.configured.find(m => m.model === 'gemma3:1b')!;
    assert.deepEqual([gemma.present, gemma.numCtxSent, gemma.contextApplied, gemma.slotsInUse], [true, 8192, 2048, 0]);
    assert.equal(local.configured.find(m => m.model === 'no-such-model:1b')!.present, false);
    const nowhere = d.providers.find(p => p.provider.id === down.id)!;
    assert.equal(nowhere.reachable, false);
    assert.ok(nowhere.reason);

    assert.ok(!('error' in d.database));
    if (!('error' in d.database)) {
      assert.equal(d.database.integrity, 'ok');
      assert.ok(d.database.snapshotBytes > 0);
      assert.ok(d.database.journalChanges >= 4, `journal ${d.database.journalChanges}`);
      assert.ok(d.database.schemaVersion >= 7);
    }
    assert.deepEqual(d.workspaceFolders, [t.workspaceDir]);
    assert.equal(d.sandbox.platform, process.platform);
    assert.ok(d.fixes.some(f => /Pull no-such-model:1b/.test(f)));
    assert.ok(d.fixes.some(f => /context of 2048 tokens, but AI2AI sends num_ctx 8192/.test(f)));
    assert.ok(d.fixes.some(f => /Nowhere .* is not reachable.*Cyd/.test(f)));

    const md = renderDiagnosis(d);
    assert.match(md, /\| gemma3:1b \| Ada \| yes \| 8192 \| 2048 \(\*\*smaller\*\*\) \| 0\/1 \|/);
    assert.match(md, /Integrity check \(quick_check\): ok/);
  });
});
