import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Agent } from '../../../src/core/model/schemas';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { call, startHeadless, type Headless } from './helpers';

const MODEL = 'gemma3:1b';

function text(r: unknown): string {
  const c = (r as { content: Array<{ type: string; text: string }> }).content;
  return c.map(x => x.text).join('');
}

describe('MCP with the SDK\'s own client, against the headless entry', function () {
  this.timeout(60_000);
  let h: Headless;
  let fake: FakeOllama;
  let client: Client;

  before(async () => {
    fake = await startFakeOllama();
    h = await startHeadless();
    await call(h, 'PATCH', '/v1/providers/ollama-local', { body: { baseUrl: fake.url } });
    const agent = (await call<Agent>(h, 'POST', '/v1/agents', { body: { name: 'Coder', role: 'developer', skills: ['js'], model: MODEL } })).body;
    assert.ok(agent.id);
    fs.mkdirSync(path.join(h.workspace, 'src'), { recursive: true });
    fs.writeFileSync(path.join(h.workspace, 'src/util.js'), 'module.exports = x => x;\n');
    client = new Client({ name: 'ai2ai-test', version: '1.0.0' });
    await client.connect(new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`), { requestInit: { headers: { Authorization: `Bearer ${h.token}` } } }));
  });
  after(async () => {
    await client?.close();
    await h?.stop();
    h?.cleanup();
    await fake?.close();
  });

  it('lists tools, creates a task with a file attached, waits for it to complete on the fake Ollama, and reads its result', async () => {
    const tools = (await client.listTools()).tools.map(t => t.name).sort();
    assert.deepEqual(tools, ['approve_task', 'create_task', 'get_task', 'list_agents', 'list_tasks', 'request_changes', 'wait_for_task']);

    const agents = JSON.parse(text(await client.callTool({ name: 'list_agents', arguments: {} })));
    assert.deepEqual(agents.map((a: { name: string }) => a.name), ['Coder']);

    fake.script(
      MODEL,
      { ...asText({ tool: 'read_file', args: { path: '../../src/util.js' } }), delayMs: 30 },
      asText({ tool: 'complete', args: { result: 'util.js is the identity function.' } }),
    );
    const created = JSON.parse(
      text(await client.callTool({ name: 'create_task', arguments: { title: 'Explain src/util.js', attachments: ['src/util.js'], agent: 'Coder' } })),
    );
    assert.ok(created.id);
    assert.deepEqual(created.attachments, ['src/util.js']);

    const waited = JSON.parse(text(await client.callTool({ name: 'wait_for_task', arguments: { taskId: created.id, timeoutSeconds: 30 } })));
    assert.equal(waited.settled, true);
    assert.equal(waited.status, 'completed', JSON.stringify(waited));

    const read = JSON.parse(text(await client.callTool({ name: 'get_task', arguments: { taskId: created.id } })));
    assert.match(read.result, /^util\.js is the identity function\./);
    assert.equal(read.assignee, 'Coder');
    assert.equal(read.runs[0].outcome, 'completed');
    // The attachment was in the agent's prompt.
    const prompt = JSON.stringify(fake.requestsTo('/api/chat')[0]!.body.messages);
    assert.match(prompt, /module\.exports = x => x;/);

    const listed = JSON.parse(text(await client.callTool({ name: 'list_tasks', arguments: { status: ['completed'] } })));
    assert.ok(listed.some((t: { id: string }) => t.id === created.id));
  });

  it('a bounded wait returns the task unsettled when time runs out; errors are tool errors, not crashes', async () => {
    const created = JSON.parse(text(await client.callTool({ name: 'create_task', arguments: { title: 'nobody does this' } })));
    const t0 = Date.now();
    const waited = JSON.parse(text(await client.callTool({ name: 'wait_for_task', arguments: { taskId: created.id, timeoutSeconds: 1 } })));
    assert.ok(Date.now() - t0 >= 900);
    assert.equal(waited.settled, false);
    assert.equal(waited.status, 'pending');
    const missing = await client.callTool({ name: 'get_task', arguments: { taskId: 'no-such-task' } });
    assert.equal(missing.isError, true);
    assert.match(text(missing), /^not_found:/);
    const approve = await client.callTool({ name: 'approve_task', arguments: { taskId: created.id, summary: 'ok' } });
    assert.equal(approve.isError, true);
    assert.match(text(approve), /not_implemented|illegal_transition|conflict/);
  });

  it('refuses a client without the token', async () => {
    const stranger = new Client({ name: 'stranger', version: '1.0.0' });
    await assert.rejects(stranger.connect(new StreamableHTTPClientTransport(new URL(`${h.url}/mcp`))), /401|unauthorized/i);
  });
});
