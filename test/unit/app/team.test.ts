import * as assert from 'node:assert/strict';
import type { Agent } from '../../../src/core/model/schemas';
import { createSubtasksTx } from '../../../src/core/app/subtasks';
import type { ChatRequestView, ScriptedReply } from '../../fake-ollama/script';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { tempCore, type TempCore } from '../core/helpers';

const A = 'gemma3:1b';
const B = 'deepseek-coder-v2:16b';
const complete = (result: string) => asText({ tool: 'complete', args: { result } });
type Msg = { role: string; content: string };

async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

describe('agents as a team: messages, questions, subtasks, escalation', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  let ada: Agent;
  let bo: Agent;
  const chats = (model: string) => fake.requestsTo('/api/chat').filter(r => r.body.model === model).map(r => r.body.messages as Msg[]);

  beforeEach(async () => {
    fake = await startFakeOllama();
    t = await tempCore({ review: { required: 'never', maxRounds: 3 } }, { tickMs: 100 });
    t.core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: 2 });
    ada = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: ['javascript'], model: A, settings: { fallbackAgent: 'Bo' } });
    bo = await t.core.agents.create({ name: 'Bo', role: 'architect', skills: ['javascript', 'design'], model: B });
  });
  afterEach(async () => {
    await t.core.close().catch(() => undefined);
    t.cleanup();
    await fake.close();
  });

  it("ask: the other agent's model answers in one completion, recorded on both tasks; an ask inside an answer is refused", async () => {
    const boTask = t.core.tasks.create({ title: 'design the API', assigneeId: bo.id });
    // Bo is busy with it (in another window, say: its lease is live).
    t.core.store.mutate(tx => tx.run(`UPDATE tasks SET status = 'in_progress', lease_owner = 'elsewhere', lease_expires_at = ? WHERE id = ?`, [Date.now() + 600_000, boTask.id]));
    fake.script(A,
      asText({ tool: 'ask', args: { agent: 'Bo', question: 'Numbers only, or strings too?' } }),
      asText({ tool: 'ask', args: { agent: 'Bo', question: 'And negatives?' } }),
      complete('asked'));
    fake.script(B, { content: 'Numbers only.' }, { content: 'Ask Ada.\n<ask>\n<agent>Ada</agent>\n<question>what?</question>\n</ask>' });
    const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id });
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    const answerPrompt = chats(B)[0];
    assert.match(answerPrompt[0].content, /You are Bo, an AI agent working as a architect[\s\S]*working on "design the API"[\s\S]*cannot use tools or ask anyone else/);
    assert.equal(answerPrompt[1].content, 'Numbers only, or strings too?');
    const adaSecond = chats(A)[1];
    assert.match(adaSecond[adaSecond.length - 1].content, /Bo answers:\nNumbers only\./);
    const adaThird = chats(A)[2];
    assert.match(adaThird[adaThird.length - 1].content, /Bo tried to ask someone else; an answer cannot ask/);
    assert.equal(chats(B).length, 2, 'no chain of questions');
    assert.ok(chats(A).length === 3, 'Ada was never asked anything');
    const onAda = t.core.activity.messagesForTask(task.id).map(m => m.body);
    assert.deepEqual(onAda.slice(0, 2), ['Question: Numbers only, or strings too?', 'Answer: Numbers only.']);
    assert.ok(t.core.activity.updates(boTask.id).some(u => /^Answered Ada: Numbers only, or strings too\? → Numbers only\./.test(u.body)), "on Bo's task too");
    assert.ok(run.promptTokens > 0);
  });

  it("send_message reaches the recipient's next turn as a new message, without changing its earlier messages", async () => {
    const adaTask = t.core.tasks.create({ title: 'helper work', assigneeId: ada.id });
    let turn = 0;
    fake.script(B, ((req: ChatRequestView): ScriptedReply => {
      turn++;
      // While Bo works, Ada (in her task) sends him a note.
      t.core.activity.send({ fromAgent: ada.id, toAgent: bo.id, taskId: adaTask.id, body: 'The tests live in tests/, not spec/.' });
      void req;
      return asText({ tool: 'report_progress', args: { message: 'working' } });
    }) as unknown as ScriptedReply, complete('done'));
    const task = t.core.tasks.create({ title: 'design', assigneeId: bo.id });
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.outcome, 'completed', run.reason ?? '');
    assert.equal(turn, 1);
    const [first, second] = chats(B);
    assert.deepEqual(second.slice(0, first.length), first, 'the earlier messages (system prompt first) are unchanged');
    assert.match(second[second.length - 1].content, /^Message from Ada \(another agent; reply with send_message if needed\):\nThe tests live in tests\/, not spec\/\./);
    assert.equal(second.length, first.length + 3, 'reply, tool result, then the message at the end');
    assert.ok(t.core.activity.updates(task.id).some(u => u.body === 'Message from Ada: The tests live in tests/, not spec/.'), "recorded on Bo's task");
    assert.ok(t.core.activity.messagesForTask(adaTask.id).some(m => m.body.startsWith('The tests live')), "and on Ada's");
  });

  it('a parent with two subtasks waits blocked, then completes after them with their results in its prompt', async () => {
    fake.options.defaultReply = ((req: ChatRequestView): ScriptedReply => {
      const first = req.messages[1]?.content ?? '';
      const last = req.messages[req.messages.length - 1]?.content ?? '';
      if (first.startsWith('# Task: part ')) return complete(`did ${first.split('\n')[0].slice(8)}`);
      if (last.startsWith('Your subtasks are done')) return complete('assembled both parts');
      return asText({ tool: 'create_subtasks', args: { tasks: 'part one | javascript | the first half\npart two | design | the second half' } });
    }) as unknown as ScriptedReply;
    const parent = t.core.tasks.create({ title: 'big job', assigneeId: ada.id });
    const first = await t.core.app.runTask(parent.id);
    assert.equal(first.outcome, 'interrupted');
    assert.equal(t.core.tasks.get(parent.id).status, 'blocked');
    const children = t.core.tasks.list().filter(x => x.parentId === parent.id);
    assert.deepEqual(children.map(c => c.title).sort(), ['part one', 'part two']);
    await until('the parent to complete', () => t.core.tasks.get(parent.id).status === 'completed');
    assert.ok(children.every(c => t.core.tasks.get(c.id).status === 'completed'));
    const resumed = fake.requestsTo('/api/chat').map(r => r.body.messages as Msg[]).find(m => m[m.length - 1].content.startsWith('Your subtasks are done'))!;
    assert.match(resumed[resumed.length - 1].content, /"part one" \(\w+\): completed: did part one/);
    assert.match(resumed[resumed.length - 1].content, /"part two" \(Bo\): completed: did part two/, 'the design part went to the agent with the skill');
    assert.ok(resumed.some(m => m.role === 'assistant' && m.content.includes('<create_subtasks>')), 'it resumed its own conversation');
    assert.match(t.core.tasks.get(parent.id).result ?? '', /^assembled both parts/);
  });

  it('subtask depth and count are capped, with a reason', async () => {
    const top = t.core.tasks.create({ title: 'top' });
    const [child] = t.core.store.mutate(tx => createSubtasksTx(tx, top.id, [{ title: 'child', description: '', skills: [] }], 1));
    const [grandchild] = t.core.store.mutate(tx => createSubtasksTx(tx, child, [{ title: 'grandchild', description: '', skills: [] }], 1));
    assert.throws(() => t.core.store.mutate(tx => createSubtasksTx(tx, grandchild, [{ title: 'too deep', description: '', skills: [] }], 1)), /nest 2 levels deep/);
    const many = Array.from({ length: 10 }, (_, i) => ({ title: `p${i}`, description: '', skills: [] }));
    assert.throws(() => t.core.store.mutate(tx => createSubtasksTx(tx, top.id, many, 1)), /at most 10 subtasks \(it has 1\)/);
    assert.equal(t.core.tasks.list().filter(x => x.parentId === top.id).length, 1, 'nothing created by a refused call');
  });

  it('an agent may escalate to a stronger model instead: the same agent retries once on it', async () => {
    const cy = await t.core.agents.create({ name: 'Cy', role: 'developer', model: A, settings: { fallbackModel: { model: B } } });
    fake.script(A, { content: 'hmm' }, { content: 'let me think' }, { content: 'not sure' });
    fake.script(B, complete('done on the bigger model'));
    const task = t.core.tasks.create({ title: 'hard', assigneeId: cy.id });
    await t.core.app.runTask(task.id);
    await until('the stronger model to finish it', () => t.core.tasks.get(task.id).status === 'completed');
    const runs = t.core.executor.list(task.id);
    assert.deepEqual(runs.map(r => [r.agentId, r.model, r.outcome]), [[cy.id, A, 'failed'], [cy.id, B, 'completed']]);
    assert.ok(t.core.activity.updates(task.id).some(u => /Escalated to Cy on deepseek-coder-v2:16b/.test(u.body)));
    assert.equal(chats(B).length, 1);
  });

  it('a run ended by a loop guard is retried once by the fallback, starting from what was tried, and never twice', async () => {
    fake.script(A, { content: 'hmm' }, { content: 'let me think' }, { content: 'not sure' });
    fake.script(B, complete('done by Bo'));
    const task = t.core.tasks.create({ title: 'tricky', assigneeId: ada.id });
    const run = await t.core.app.runTask(task.id);
    assert.equal(run.outcome, 'failed');
    assert.equal(run.errorKind, 'malformed');
    await until('the fallback to finish it', () => t.core.tasks.get(task.id).status === 'completed');
    const done = t.core.tasks.get(task.id);
    assert.equal(done.assigneeId, bo.id);
    assert.match(done.result ?? '', /^done by Bo/);
    const boPrompt = chats(B)[0][1].content;
    assert.match(boPrompt, /Ada got stuck \([\s\S]*could not be used[\s\S]*\)\. Escalated to Bo\. What Ada tried:\n- hmm\n- let me think\n- not sure/);

    // Bo gets stuck on the next one too: no second escalation.
    await t.core.agents.edit(bo.id, { settings: { fallbackAgent: 'Ada' } });
    fake.script(A, { content: 'x' }, { content: 'y' }, { content: 'z' });
    fake.script(B, { content: 'a' }, { content: 'b' }, { content: 'c' });
    const again = t.core.tasks.create({ title: 'trickier', assigneeId: ada.id });
    await t.core.app.runTask(again.id);
    await until('the second failure', () => t.core.tasks.get(again.id).status === 'failed');
    assert.equal(chats(A).length, 6, 'Ada did not get it back');
    assert.equal(t.core.executor.list(again.id).length, 2, 'one escalation, never two');
  });
});
