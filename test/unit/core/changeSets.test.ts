import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { tempCore, type TempCore } from './helpers';

const MODEL = 'gemma3:1b';

describe('change sets: writes to attached files outside the agent\'s folder are proposed, not applied', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  let file: string;

  beforeEach(async () => {
    fake = await startFakeOllama();
    t = await tempCore({}, { schedule: true, tickMs: 100 });
    t.core.providers.edit('ollama-local', { baseUrl: fake.url });
    file = path.join(t.workspaceDir, 'src/util.js');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, 'module.exports = x => x;\n');
  });
  afterEach(async () => {
    await t.core.close();
    t.cleanup();
    await fake.close();
  });

  async function run(...replies: Parameters<FakeOllama['script']>[1][]): Promise<string> {
    const agent = t.core.agents.findByName('Ada') ?? (await t.core.agents.create({ name: 'Ada', role: 'developer', model: MODEL }));
    const task = t.core.tasks.create({ title: 'double it', attachments: ['src/util.js'], assigneeId: agent.id });
    fake.script(MODEL, ...replies);
    const r = await t.core.app.runTask(task.id);
    assert.equal(r.outcome, 'completed', r.reason ?? '');
    return task.id;
  }

  it('records the proposal with the file as the agent read it, leaves the file alone, and the agent reads its own version', async () => {
    const id = await run(
      asText({ tool: 'replace_in_file', args: { path: 'src/util.js', search: 'x => x', replace: 'x => 2 * x' } }),
      asText({ tool: 'read_file', args: { path: '../../src/util.js' } }),
      asText({ tool: 'complete', args: { result: 'doubled' } }),
    );
    assert.equal(fs.readFileSync(file, 'utf8'), 'module.exports = x => x;\n', 'nothing outside the folder changed');
    const [c] = t.core.changeSets.list(id);
    assert.equal(c!.path, 'src/util.js');
    assert.equal(c!.status, 'proposed');
    assert.equal(c!.before, 'module.exports = x => x;\n');
    assert.equal(c!.after, 'module.exports = x => 2 * x;\n');
    const chats = fake.requestsTo('/api/chat');
    const first = JSON.stringify(chats[0]!.body.messages);
    assert.match(first, /your change is proposed to the user/);
    assert.match(JSON.stringify(chats[2]!.body.messages.at(-1)), /2 \* x/, 'read_file showed the proposed version');
    assert.match(await t.core.changeSets.diff(id, 'src/util.js'), /-module\.exports = x => x;\n\+module\.exports = x => 2 \* x;/);
    // Accepting applies it.
    const [done] = t.core.changeSets.accept(id);
    assert.equal(done!.status, 'accepted');
    assert.equal(fs.readFileSync(file, 'utf8'), 'module.exports = x => 2 * x;\n');
  });

  it('a file changed since the agent read it is a conflict, never overwritten; reject leaves it as it is', async () => {
    const id = await run(
      asText({ tool: 'write_file', args: { path: 'src/util.js', content: 'module.exports = x => x + 1;\n' } }),
      asText({ tool: 'complete', args: { result: 'incremented' } }),
    );
    fs.writeFileSync(file, '// edited by the user\nmodule.exports = x => x;\n');
    const [c] = t.core.changeSets.accept(id);
    assert.equal(c!.status, 'conflict');
    assert.match(c!.conflict!, /src\/util\.js changed since the agent read it/);
    assert.equal(fs.readFileSync(file, 'utf8'), '// edited by the user\nmodule.exports = x => x;\n');
    const [r] = t.core.changeSets.reject(id);
    assert.equal(r!.status, 'rejected');
    assert.throws(() => t.core.changeSets.accept(id, ['src/util.js']), /already rejected/);
  });

  it('a write elsewhere outside the folder is still refused', async () => {
    const id = await run(
      asText({ tool: 'write_file', args: { path: '../../src/other.js', content: 'x' } }),
      asText({ tool: 'complete', args: { result: 'tried' } }),
    );
    assert.equal(t.core.changeSets.list(id).length, 0);
    assert.ok(!fs.existsSync(path.join(t.workspaceDir, 'src/other.js')));
    assert.ok(t.core.activity.updates(id).some(u => u.kind === 'error' && /Refused path/.test(u.body)));
  });
});
