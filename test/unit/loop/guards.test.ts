import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runAgentLoop, type LoopEvent, type LoopInput } from '../../../src/core/loop/agentLoop';
import { createProvider } from '../../../src/core/providers';
import { createToolRegistry, runCommand } from '../../../src/core/tools';
import { PathSandbox } from '../../../src/core/workspace/sandbox';
import { startFakeOllama, type FakeOllama, type ScriptedReply } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { sandboxSetup } from '../sandbox/setup';

describe('agent loop guards and provider errors', function () {
  this.timeout(30_000);
  let fake: FakeOllama;
  let dir: string;
  beforeEach(async () => {
    fake = await startFakeOllama();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-loop-'));
  });
  afterEach(async () => {
    await fake.close();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  function input(model: string, over: Partial<LoopInput> = {}): LoopInput {
    return {
      provider: createProvider({ kind: 'ollama', baseUrl: fake.url }),
      model,
      tools: createToolRegistry(),
      protocol: 'text',
      system: p => `system (${p})`,
      task: 'Write src/a.js',
      toolContext: {
        sandbox: new PathSandbox({ workspaceRoots: [dir], writeRoot: dir }), cwd: dir, runCommand,
        approve: async () => false, trusted: true, allowlist: [], onProgress: () => {}, sendMessage: () => {},
      },
      sleep: async () => {},
      ...over,
    };
  }

  async function run(model: string, replies: ScriptedReply[], over: Partial<LoopInput> = {}) {
    fake.script(model, ...replies);
    const events: LoopEvent[] = [];
    const r = await runAgentLoop(input(model, over), new AbortController().signal, e => events.push(e));
    return { r, events };
  }

  const write = (i: number) => asText({ tool: 'write_file', args: { path: `f${i}.txt`, content: `${i}` } });

  it('max steps', async () => {
    const { r } = await run('gemma3:1b', [1, 2, 3, 4].map(write), { budgets: { maxSteps: 3 } });
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason!, /after 3 steps/);
    assert.equal(r.steps, 3);
  });

  it('consecutive malformed replies, each answered with a precise correction', async () => {
    const { r, events } = await run('gemma3:1b', [{ content: 'I will now write the file.' }, { content: '<write_file><path>a.js</path>' }, { content: '<explode/>' }]);
    assert.equal(r.outcome, 'failed');
    // The reason is written for the user; the corrections written for the model stay in the conversation.
    assert.match(r.reason!, /^The model's last 3 replies could not be used: .*Try a larger model, or another tool protocol/);
    assert.doesNotMatch(r.reason!, /Reply with|Your reply/);
    assert.equal(events.filter(e => e.type === 'malformed').length, 3);
    const corrections = r.messages.filter(m => m.role === 'user').slice(1).map(m => m.content);
    assert.equal(corrections.length, 2);
    assert.ok(corrections.every(c => c.length > 20));
  });

  it('a malformed reply in between resets the count', async () => {
    const { r } = await run('gemma3:1b', [{ content: 'oops' }, { content: 'oops' }, write(1), { content: 'oops' }, { content: 'oops' }, asText({ tool: 'complete', args: { result: 'done' } })]);
    assert.equal(r.outcome, 'completed');
  });

  it('the same action three times in a row', async () => {
    const same = asText({ tool: 'list_files', args: { path: '.' } });
    const { r } = await run('gemma3:1b', [same, same, same]);
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason!, /repeated the same action \(list_files\) 3 times/);
  });

  it('token budget', async () => {
    const { r } = await run('gemma3:1b', [1, 2, 3, 4, 5].map(write), { budgets: { maxTokens: 50 } });
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason!, /token budget is 50/);
  });

  it('wall-clock budget', async () => {
    let clock = 0;
    const { r } = await run('gemma3:1b', [1, 2, 3].map(write), { now: () => (clock += 40_000), budgets: { maxWallMs: 60_000 } });
    assert.equal(r.outcome, 'failed');
    assert.match(r.reason!, /time budget/);
  });

  it('context overflow: condenses old tool output first, fails when even that is not enough', async () => {
    fs.writeFileSync(path.join(dir, 'big.txt'), 'x'.repeat(6000));
    const read = asText({ tool: 'read_file', args: { path: 'big.txt' } });
    const { r, events } = await run('gemma3:1b', [read, write(1), write(2), write(3), write(4), asText({ tool: 'complete', args: { result: 'ok' } })], { budgets: { numCtx: 2000 } });
    assert.equal(r.outcome, 'completed', r.reason);
    assert.ok(events.some(e => e.type === 'condensed'), 'condensed');
    const { r: r2 } = await run('gemma3:1b', [write(1)], { task: 'y'.repeat(12_000), budgets: { numCtx: 1000 } });
    assert.equal(r2.outcome, 'failed');
    assert.match(r2.reason!, /no longer fits the model's context window/);
  });

  it('silent truncation is detected and reported', async () => {
    // Ollama judged only when the prompt fills over half the window: 1,500 estimated tokens of 2,048.
    const { r, events } = await run('gemma3:1b', [{ ...write(1), promptEvalCount: 300 }, asText({ tool: 'complete', args: { result: 'ok' } })], {
      task: 'z'.repeat(6000),
      budgets: { numCtx: 2048 },
    });
    assert.equal(r.outcome, 'completed');
    const t = events.find(e => e.type === 'truncated') as Extract<LoopEvent, { type: 'truncated' }> | undefined;
    assert.ok(t, 'truncated event');
    assert.equal(t.reported, 300);
    assert.ok(t.estimated > 1500, `estimated ${t.estimated}`);
  });

  it('retries a busy server with backoff, then succeeds', async () => {
    const busy: ScriptedReply = { status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' };
    const { r, events } = await run('gemma3:1b', [busy, busy, asText({ tool: 'complete', args: { result: 'ok' } })]);
    assert.equal(r.outcome, 'completed');
    const retries = events.filter(e => e.type === 'retry') as Array<Extract<LoopEvent, { type: 'retry' }>>;
    assert.deepEqual(retries.map(e => e.delayMs), [1000, 2000]);
  });

  it('gives up after the retries with the reason', async () => {
    const busy: ScriptedReply = { status: 503, error: 'server busy, please try again.  maximum pending requests exceeded' };
    const { r } = await run('gemma3:1b', [busy, busy, busy, busy, busy]);
    assert.equal(r.outcome, 'error');
    assert.equal(r.errorKind, 'busy');
  });

  it('a mid-stream error is retried', async () => {
    const { r } = await run('gemma3:1b', [{ content: 'hello there', errorAfter: 1, midStreamError: 'an error was encountered while running the model' }, asText({ tool: 'complete', args: { result: 'ok' } })]);
    assert.equal(r.outcome, 'completed');
  });

  it('falls back from native tools to the text protocol when the model rejects tools', async () => {
    const { r, events } = await run('gemma3:1b', [asText({ tool: 'complete', args: { result: 'ok' } })], { protocol: 'native' });
    assert.equal(r.outcome, 'completed');
    assert.ok(events.some(e => e.type === 'protocol' && e.to === 'text'));
    assert.equal(r.protocol, 'text');
  });

  it('context too long (400) from deepseek: condenses and retries, or fails with the reason', async () => {
    const { r } = await run('deepseek-coder-v2:16b', [{ status: 400, error: 'the prompt is longer than the context length currently available to the model; try a shorter prompt' }]);
    assert.equal(r.outcome, 'error');
    assert.equal(r.errorKind, 'context_too_long');
  });

  it('a run refuses to complete while tests fail, and says why', async () => {
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ scripts: { test: 'node -e "process.exit(1)"' } }));
    const done = asText({ tool: 'complete', args: { result: 'done' } });
    const { r, events } = await run('gemma3:1b', [done, asText({ tool: 'fail', args: { reason: 'cannot fix the tests' } })], {
      toolContext: { ...input('gemma3:1b').toolContext, allowlist: ['npm test'], commands: await sandboxSetup() },
    });
    assert.equal(r.outcome, 'failed');
    assert.equal(r.reason, 'cannot fix the tests');
    assert.ok(events.some(e => e.type === 'tests' && e.beforeComplete && !e.ok));
    assert.match(r.messages.find(m => m.content.includes('You called complete'))!.content, /tests do not pass/);
  });

  it('stops the model as soon as one whole action has streamed (no invented tool results)', async () => {
    const action = asText({ tool: 'complete', args: { result: 'ok' } }).content!;
    const rambling = `${action}\n<tool_result name="complete">Task marked complete.</tool_result>\n${'and then I would '.repeat(300)}`;
    const t0 = Date.now();
    const { r } = await run('gemma3:1b', [{ content: rambling, pieceDelayMs: 10 }]);
    assert.equal(r.outcome, 'completed');
    assert.equal(r.result, 'ok');
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms; the whole reply would stream for ~13 s`);
    assert.ok(!r.messages.some(m => m.role === 'assistant' && m.content.includes('<tool_result')), 'the invented result never enters the conversation');
    await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'the server to stop generating');
  });

  it('a model stopped early on two turns in a row is still heard on the next; a cancel later still cancels', async () => {
    const ramble = (i: number) => ({ content: `${write(i).content!}\n${'and then I would '.repeat(300)}`, pieceDelayMs: 5 });
    const { r } = await run('gemma3:1b', [ramble(1), ramble(2), write(3), asText({ tool: 'complete', args: { result: 'three files' } })]);
    assert.equal(r.outcome, 'completed', r.reason);
    assert.deepEqual(['f1.txt', 'f2.txt', 'f3.txt'].map(f => fs.readFileSync(path.join(dir, f), 'utf8')), ['1', '2', '3']);
    await fake.waitFor(() => fake.counters.aborted === 2 && fake.counters.active === 0, 5000, 'the server to stop both rambles');

    // after an early stop, the user's cancel reaches the next model call
    fake.script('gemma3:1b', ramble(4), { content: 'never', stallAfter: 0 });
    const ctl = new AbortController();
    const cancelled = runAgentLoop(input('gemma3:1b'), ctl.signal, e => {
      if (e.type === 'model' && e.step === 2) setTimeout(() => ctl.abort(), 100);
    });
    const c = await Promise.race([cancelled, new Promise<never>((_, reject) => setTimeout(() => reject(new Error('the cancel did not end the run within 5 s')), 5000))]);
    assert.equal(c.outcome, 'cancelled');
    await fake.waitFor(() => fake.counters.active === 0, 5000, 'the stalled call to be closed');
  });

  it('the JSON-schema protocol: sends the schema as format, acts on the JSON reply', async () => {
    const { r } = await run('gemma3:1b', [{ json: { tool: 'write_file', args: { path: 'j.txt', content: 'json' } } }, { json: { tool: 'complete', args: { result: 'via json' } } }], {
      protocol: 'json',
    });
    assert.equal(r.outcome, 'completed', r.reason);
    assert.equal(r.result, 'via json');
    assert.equal(fs.readFileSync(path.join(dir, 'j.txt'), 'utf8'), 'json');
    const body = fake.requestsTo('/api/chat')[0].body;
    assert.equal(typeof body.format, 'object', 'a JSON schema in format');
  });

  it('cancel mid-stream stops the server generating', async () => {
    const ac = new AbortController();
    fake.script('gemma3:1b', { content: 'x'.repeat(4000), pieceDelayMs: 5 });
    const p = runAgentLoop(input('gemma3:1b'), ac.signal, e => e.type === 'delta' && ac.abort());
    const r = await p;
    assert.equal(r.outcome, 'cancelled');
    await fake.waitFor(() => fake.counters.aborted === 1 && fake.counters.active === 0, 5000, 'the server to see the abort');
  });
});
