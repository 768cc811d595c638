import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Agent } from '../../../src/core/model/schemas';
import { parseFindingLines } from '../../../src/core/tools/reviewTools';
import { diffSnapshots, snapshotFolder } from '../../../src/core/workspace/folderDiff';
import { startFakeOllama, type FakeOllama } from '../../fake-ollama/server';
import { asText } from '../../fake-ollama/scenarios';
import { tempCore, type TempCore } from '../core/helpers';

const AUTHOR_MODEL = 'gemma3:1b';
const REVIEWER_MODEL = 'deepseek-coder-v2:16b';

async function until(what: string, pred: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}

describe('AI-to-AI review: reviewer agents, verdicts, rounds', function () {
  this.timeout(60_000);
  let t: TempCore;
  let fake: FakeOllama;
  let ada: Agent;
  const chats = (model: string) => fake.requestsTo('/api/chat').filter(r => r.body.model === model);

  async function setup(opts: { maxRounds?: number; reviewer?: boolean; adaReviews?: boolean } = {}): Promise<void> {
    fake = await startFakeOllama();
    t = await tempCore({ review: { required: 'auto', maxRounds: opts.maxRounds ?? 3 } }, { tickMs: 100 });
    t.core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: 2 });
    ada = await t.core.agents.create({ name: 'Ada', role: 'developer', skills: opts.adaReviews ? ['javascript', 'review'] : ['javascript'], model: AUTHOR_MODEL });
    if (opts.reviewer !== false) await t.core.agents.create({ name: 'Critic', role: 'reviewer', skills: ['review'], model: REVIEWER_MODEL });
  }
  afterEach(async () => {
    await t?.core.close().catch(() => undefined);
    t?.cleanup();
    await fake?.close();
  });

  const buggy = asText({ tool: 'write_file', args: { path: 'src/add.js', content: 'module.exports = (a, b) => a - b;\n' } });
  const done = (result: string) => asText({ tool: 'complete', args: { result } });

  it('request_changes then approve: completed, both verdicts stored, the findings in the author\'s second prompt, the diff in the reviewer\'s', async () => {
    await setup();
    fake.script(AUTHOR_MODEL, buggy, done('wrote add'),
      asText({ tool: 'replace_in_file', args: { path: 'src/add.js', search: 'a - b', replace: 'a + b' } }), done('fixed the sign'));
    fake.script(REVIEWER_MODEL,
      asText({ tool: 'read_file', args: { path: 'src/add.js' } }),
      asText({ tool: 'request_changes', args: { summary: 'wrong operator', findings: 'src/add.js:1 [major] subtracts instead of adding; use a + b' } }),
      asText({ tool: 'approve', args: { summary: 'adds correctly now' } }));
    const task = t.core.tasks.create({ title: 'write add', description: 'src/add.js exporting add(a, b)', assigneeId: ada.id });
    const first = await t.core.app.runTask(task.id);
    assert.equal(first.outcome, 'completed');
    assert.equal(t.core.tasks.get(task.id).status, 'in_review', 'only an approval completes it');
    await until('the review cycle to end', () => t.core.tasks.get(task.id).status === 'completed');

    const reviews = t.core.app.reviews(task.id);
    assert.deepEqual(reviews.map(r => [r.round, r.verdict, r.reviewerName]), [[1, 'request_changes', 'Critic'], [2, 'approve', 'Critic']]);
    assert.deepEqual(reviews[0].findings, [{ file: 'src/add.js', line: 1, severity: 'major', comment: 'subtracts instead of adding; use a + b' }]);
    assert.equal(reviews[0].authorId, ada.id);

    const authorPrompts = chats(AUTHOR_MODEL);
    const secondRound = authorPrompts[2].body.messages as Array<{ content: string }>;
    assert.match(secondRound[1].content, /Reviewer feedback on your earlier attempt \(address every point\)/);
    assert.match(secondRound[1].content, /\[major\] src\/add\.js:1: subtracts instead of adding/);

    const reviewerFirst = chats(REVIEWER_MODEL)[0].body.messages as Array<{ role: string; content: string }>;
    assert.match(reviewerFirst[0].content, /you may NOT change anything/);
    assert.match(reviewerFirst[1].content, /# Review \(round 1 of 3\): write add/);
    assert.match(reviewerFirst[1].content, /- added src\/add\.js/);
    assert.match(reviewerFirst[1].content, /\+module\.exports = \(a, b\) => a - b;/, 'the diff of what the author changed');
    assert.match(chats(REVIEWER_MODEL)[2].body.messages[1].content, /Round 1, Critic: requested changes/, 'round 2 knows round 1');

    const runs = t.core.executor.list(task.id);
    assert.equal(runs.length, 2);
    assert.ok(runs.every(r => r.diff && fs.existsSync(r.diff)), 'each author run records its diff');
    const reviewTasks = t.core.tasks.list().filter(x => x.reviewOf === task.id);
    assert.equal(reviewTasks.length, 2);
    assert.ok(reviewTasks.every(r => r.assigneeId !== ada.id && r.status === 'completed'));
    assert.match(t.core.tasks.get(task.id).result ?? '', /^fixed the sign/);
    assert.equal(fs.readFileSync(path.join(t.workspaceDir, 'agents/ada/src/add.js'), 'utf8'), 'module.exports = (a, b) => a + b;\n');
  });

  it('an author is never its own reviewer; with no other reviewer the task waits in review and a person\'s approval completes it', async () => {
    await setup({ reviewer: false, adaReviews: true });
    fake.script(AUTHOR_MODEL, buggy, done('wrote add'));
    const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id, reviewRequired: true });
    await t.core.app.runTask(task.id);
    assert.equal(t.core.tasks.get(task.id).status, 'in_review');
    await new Promise(r => setTimeout(r, 300));
    assert.equal(t.core.tasks.list().filter(x => x.reviewOf === task.id).length, 0, 'no review task for the author to take');
    assert.match(t.core.app.reviewState(t.core.tasks.get(task.id))?.hint ?? '', /no reviewer agent: create one with the review skill, or review it yourself/);
    assert.equal(chats(AUTHOR_MODEL).length, 2, 'Ada never reviewed her own work');
    const approved = t.core.app.approve(task.id, 'looks right to me');
    assert.equal(approved.status, 'completed');
    assert.deepEqual(t.core.app.reviews(task.id).map(r => [r.verdict, r.reviewerName, r.reviewerId]), [['approve', 'a person', null]]);
  });

  it('the round cap holds: past it the task fails with the last findings', async () => {
    await setup({ maxRounds: 1 });
    fake.script(AUTHOR_MODEL, buggy, done('wrote add'));
    fake.script(REVIEWER_MODEL, asText({ tool: 'request_changes', args: { findings: 'src/add.js:1 [blocker] wrong operator' } }));
    const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id });
    await t.core.app.runTask(task.id);
    await until('the review to fail the task', () => t.core.tasks.get(task.id).status === 'failed');
    assert.match(t.core.tasks.get(task.id).failureReason ?? '', /^Review not passed after 1 round\. Last findings:[\s\S]*\[blocker\] src\/add\.js:1: wrong operator/);
    assert.equal(chats(AUTHOR_MODEL).length, 2, 'not sent back past the cap');
  });

  it("a reviewer's write attempt is refused with what to do instead", async () => {
    await setup();
    fake.script(AUTHOR_MODEL, buggy, done('wrote add'));
    fake.script(REVIEWER_MODEL,
      asText({ tool: 'write_file', args: { path: 'src/add.js', content: 'hacked' } }),
      asText({ tool: 'approve', args: { summary: 'fine' } }));
    const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id });
    await t.core.app.runTask(task.id);
    await until('approval', () => t.core.tasks.get(task.id).status === 'completed');
    const second = chats(REVIEWER_MODEL)[1].body.messages as Array<{ content: string }>;
    assert.match(second[second.length - 1].content, /You are reviewing this work, so you cannot write file[\s\S]*request_changes/);
    assert.equal(fs.readFileSync(path.join(t.workspaceDir, 'agents/ada/src/add.js'), 'utf8'), 'module.exports = (a, b) => a - b;\n', 'the file is untouched');
  });

  it('a person can request changes with comments; the author gets them in its next prompt', async () => {
    await setup({ reviewer: false });
    fake.script(AUTHOR_MODEL, buggy, done('wrote add'), done('checked again'));
    const task = t.core.tasks.create({ title: 'write add', assigneeId: ada.id, reviewRequired: true });
    await t.core.app.runTask(task.id);
    const back = t.core.app.requestChanges(task.id, 'src/add.js:1 it subtracts');
    assert.equal(back.status, 'pending');
    assert.equal(back.assigneeId, ada.id);
    await until('the author to run again', () => chats(AUTHOR_MODEL).length === 3);
    assert.match((chats(AUTHOR_MODEL)[2].body.messages as Array<{ content: string }>)[1].content, /a person requested changes[\s\S]*src\/add\.js:1: it subtracts/);
    await until('in review again', () => t.core.tasks.get(task.id).status === 'in_review');
    assert.equal(t.core.tasks.get(task.id).reviewRound, 2);
  });

  it("with ai2ai.changes.applyOnApproval, a reviewer agent's approval applies the author's proposed changes to an attached file; without it they wait", async () => {
    await setup();
    fs.mkdirSync(path.join(t.workspaceDir, 'lib'), { recursive: true });
    for (const apply of [false, true]) {
      t.settings.applyChangesOnApproval = apply;
      const file = `lib/shared-${apply}.js`;
      fs.writeFileSync(path.join(t.workspaceDir, file), 'old\n');
      fake.script(AUTHOR_MODEL, asText({ tool: 'write_file', args: { path: `../../${file}`, content: 'new\n' } }), done('changed the shared file'));
      fake.script(REVIEWER_MODEL, asText({ tool: 'approve', args: { summary: 'ok' } }));
      const task = t.core.tasks.create({ title: `shared ${apply}`, assigneeId: ada.id, attachments: [file] });
      await t.core.app.runTask(task.id);
      await until('approval', () => t.core.tasks.get(task.id).status === 'completed');
      const [change] = t.core.changeSets.list(task.id);
      assert.equal(change?.path, file, 'the write became a proposal');
      await until('the change set to settle', () => t.core.changeSets.list(task.id)[0].status === (apply ? 'accepted' : 'proposed'), 5000);
      assert.equal(fs.readFileSync(path.join(t.workspaceDir, file), 'utf8'), apply ? 'new\n' : 'old\n');
    }
  });

  it('a same-size rewrite within one file-system time tick still shows in the diff (racy files are read again)', async () => {
    const dir = fs.mkdtempSync(path.join(require('node:os').tmpdir(), 'ai2ai-racy-'));
    try {
      fs.writeFileSync(path.join(dir, 'm.js'), 'a + b\n');
      const before = await snapshotFolder(dir);
      fs.writeFileSync(path.join(dir, 'm.js'), 'a * b\n'); // same size, same inode, maybe the same mtime tick
      const d = diffSnapshots(before, await snapshotFolder(dir, undefined, before));
      assert.deepEqual(d.files, [{ path: 'm.js', status: 'modified' }]);
      assert.equal(d.after['m.js'], 'a * b\n');
      assert.match(d.patch, /-a \+ b\n\+a \* b/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a run id naming a path outside the transcripts folder is refused, never read', async () => {
    await setup({ reviewer: false });
    fs.writeFileSync(path.join(t.storageDir, 'secret.json'), JSON.stringify({ messages: [{ role: 'user', content: 'secret' }], events: [] }));
    assert.equal(t.core.executor.readTranscriptFile('../secret'), undefined);
    assert.throws(() => t.core.executor.transcriptPath('../secret'), /is not a run id/);
  });

  it('reads findings the way small models write them', () => {
    assert.deepEqual(parseFindingLines('- src/a.js:3 [minor] rename x\n2. tests/a.test.js (blocker): no test for zero\nJust a general remark'), [
      { file: 'src/a.js', line: 3, severity: 'minor', comment: 'rename x' },
      { file: 'tests/a.test.js', line: undefined, severity: 'blocker', comment: 'no test for zero' },
      { file: '(general)', severity: 'major', comment: 'Just a general remark' },
    ]);
  });
});
