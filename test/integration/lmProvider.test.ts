import * as assert from 'assert';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import * as vscode from 'vscode';
import type { Core } from '../../src/core';
import { runAgentLoop } from '../../src/core/loop/agentLoop';
import { chooseProtocol } from '../../src/core/protocol';
import { createToolRegistry, runCommand } from '../../src/core/tools';
import { PathSandbox } from '../../src/core/workspace/sandbox';
import { VsCodeLmProvider, type LmApi } from '../../src/vscode/lmProvider';
import { activate } from './helpers';

/** A chat model as another extension would contribute it, scripted: VS Code has none in this test host. */
type Reply = string | { tool: string; input: Record<string, unknown> };

function fakeModel(replies: Reply[], fail?: Error, supportsToolCalling?: boolean): { model: vscode.LanguageModelChat; seen: vscode.LanguageModelChatMessage[][]; options: Array<{ justification?: string; tools?: Array<{ name: string }> }> } {
  const seen: vscode.LanguageModelChatMessage[][] = [];
  const options: Array<{ justification?: string; tools?: Array<{ name: string }> }> = [];
  let calls = 0;
  const model = {
    id: 'fake-lm', name: 'Fake LM', vendor: 'test', family: 'fake', version: '1', maxInputTokens: 16_000,
    ...(supportsToolCalling === undefined ? {} : { capabilities: { supportsToolCalling } }),
    countTokens: async (t: string | vscode.LanguageModelChatMessage) => Math.ceil((typeof t === 'string' ? t : '').length / 4),
    sendRequest: async (messages: vscode.LanguageModelChatMessage[], opts: { justification?: string; tools?: Array<{ name: string }> }) => {
      seen.push(messages);
      options.push(opts);
      if (fail) throw fail;
      const reply = replies.shift() ?? '<fail>\n<reason>no more replies</reason>\n</fail>';
      const parts: unknown[] =
        typeof reply === 'string'
          ? Array.from({ length: Math.ceil(reply.length / 7) }, (_, i) => new vscode.LanguageModelTextPart(reply.slice(i * 7, i * 7 + 7)))
          : [new vscode.LanguageModelTextPart('Calling a tool.'), new vscode.LanguageModelToolCallPart(`call-${++calls}`, reply.tool, reply.input)];
      return {
        stream: (async function* () {
          yield* parts;
        })(),
        text: (async function* () {})(),
      };
    },
  } as unknown as vscode.LanguageModelChat;
  return { model, seen, options };
}

const lmWith = (model: vscode.LanguageModelChat): LmApi => ({ selectChatModels: async sel => (!sel?.id || sel.id === model.id ? [model] : []) });

describe("VS Code's chat models as a provider", function () {
  this.timeout(60_000);
  let core: Core;

  before(async () => {
    core = await (await activate()).ready;
  });

  it('is a provider kind of its own; in a VS Code without chat models it is offline and says why', async () => {
    const p = core.providers.create({ kind: 'vscode', name: "VS Code's models", baseUrl: 'vscode://lm' });
    try {
      const client = core.providers.client(p.id);
      assert.equal(client.kind, 'vscode');
      const models = await vscode.lm.selectChatModels();
      const h = await client.health(AbortSignal.timeout(5000));
      if (models.length === 0) assert.deepEqual(h, { ok: false, reason: 'VS Code offers no chat model. Install or sign in to an extension that provides one (e.g. GitHub Copilot).' });
      assert.throws(() => core.providers.create({ kind: 'vscode', name: 'x', baseUrl: 'http://127.0.0.1:1' }), /vscode:\/\/lm/);
    } finally {
      core.providers.delete(p.id);
    }
  });

  it('an agent works through it with the text protocol: the system prompt leads, replies stream, the run completes', async () => {
    const { model, seen, options } = fakeModel([
      'I will write the file.\n<write_file>\n<path>src/hello.js</path>\n<content>\nmodule.exports = () => "hello";\n</content>\n</write_file>',
      '<complete>\n<result>wrote src/hello.js</result>\n</complete>',
    ]);
    const provider = new VsCodeLmProvider(lmWith(model));
    assert.deepEqual(await provider.listModels(), [{ name: 'fake-lm', family: 'fake' }]);
    const info = await provider.probe('fake-lm');
    assert.equal(info.contextLength, 16_000);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-lm-'));
    const r = await runAgentLoop(
      {
        provider, model: 'fake-lm', tools: createToolRegistry(), protocol: 'text', system: () => 'You are an agent.', task: 'Write src/hello.js',
        toolContext: { sandbox: new PathSandbox({ workspaceRoots: [dir], writeRoot: dir }), cwd: dir, runCommand, approve: async () => false, trusted: true, allowlist: [], onProgress: () => {}, sendMessage: () => {} },
        budgets: { maxSteps: 5 },
      },
      new AbortController().signal,
    );
    assert.equal(r.outcome, 'completed', r.reason);
    assert.equal(fs.readFileSync(path.join(dir, 'src/hello.js'), 'utf8'), 'module.exports = () => "hello";\n');
    assert.equal(seen.length, 2);
    const first = seen[0]!;
    assert.equal(first[0]!.role, vscode.LanguageModelChatMessageRole.User);
    assert.match(JSON.stringify(first[0]!.content), /\[Instructions\]/);
    assert.equal(seen[1]!.some(m => m.role === vscode.LanguageModelChatMessageRole.Assistant), true, 'its earlier reply goes back as an assistant message');
    assert.match(String(options[0]!.justification), /AI2AI agents use this model/);
    assert.equal(options[0]!.tools, undefined, 'the text protocol sends no tools');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('a model that supports tool calling gets native tool calls, and their results go back as tool-result parts', async () => {
    const { model, seen, options } = fakeModel(
      [{ tool: 'write_file', input: { path: 'a.txt', content: 'native\n' } }, { tool: 'complete', input: { result: 'wrote a.txt' } }],
      undefined,
      true,
    );
    const provider = new VsCodeLmProvider(lmWith(model));
    const info = await provider.probe('fake-lm');
    assert.deepEqual(info.capabilities, ['completion', 'tools']);
    assert.equal(chooseProtocol(info.capabilities, 'auto', 'fake-lm'), 'native');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-lm-'));
    const r = await runAgentLoop(
      {
        provider, model: 'fake-lm', tools: createToolRegistry(), protocol: 'native', system: () => 'You are an agent.', task: 'Write a.txt',
        toolContext: { sandbox: new PathSandbox({ workspaceRoots: [dir], writeRoot: dir }), cwd: dir, runCommand, approve: async () => false, trusted: true, allowlist: [], onProgress: () => {}, sendMessage: () => {} },
        budgets: { maxSteps: 5 },
      },
      new AbortController().signal,
    );
    assert.equal(r.outcome, 'completed', r.reason);
    assert.equal(fs.readFileSync(path.join(dir, 'a.txt'), 'utf8'), 'native\n');
    assert.ok(options[0]!.tools?.some(t => t.name === 'write_file'), 'the tools were offered');
    const second = seen[1]!;
    const parts = second.flatMap(m => m.content);
    assert.ok(parts.some(p => p instanceof vscode.LanguageModelToolCallPart && p.callId === 'call-1'), 'the call goes back');
    assert.ok(parts.some(p => p instanceof vscode.LanguageModelToolResultPart && p.callId === 'call-1'), 'with its result');
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it("a refused permission becomes an 'unauthorized' error that says what to do; an unknown model says which exist", async () => {
    const { model } = fakeModel([], vscode.LanguageModelError.NoPermissions('no consent'));
    const provider = new VsCodeLmProvider(lmWith(model));
    await assert.rejects(
      provider.chat({ model: 'fake-lm', messages: [{ role: 'user', content: 'hi' }], options: {} }, new AbortController().signal),
      (e: { kind?: string; message: string }) => e.kind === 'unauthorized' && /allow it when VS Code asks/.test(e.message),
    );
    await assert.rejects(provider.probe('other-model'), (e: { kind?: string; message: string }) => e.kind === 'model_not_found' && /It has: fake-lm/.test(e.message));
  });
});
