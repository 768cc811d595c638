/**
 * review_round_overhead_ms: what one review round adds beyond model time, with a 200-file agent folder:
 * the folder snapshot taken when the author's run is claimed, plus everything from the author's `complete`
 * to the task's completion (the diff, the in_review and review-task mutations, queueing the reviewer, its run's
 * set-up and prompt, applying the verdict), minus the reviewer's model time. Target ≤ 50 ms.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCore } from '../src/core';
import { snapshotFolder } from '../src/core/workspace/folderDiff';
import { startFakeOllama } from '../test/fake-ollama/server';
import type { ChatRequestView, ScriptedReply } from '../test/fake-ollama/script';

const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function main(): Promise<void> {
  const reply = (req: ChatRequestView): ScriptedReply =>
    req.model === 'gemma3:1b'
      ? { content: '<write_file>\n<path>src/new.js</path>\n<content>\nmodule.exports = 42;\n</content>\n</write_file>' }
      : { content: '<approve>\n<summary>fine</summary>\n</approve>' };
  const fake = await startFakeOllama({ numParallel: 2 });
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-review-bench-'));
  fs.mkdirSync(path.join(root, 'ws'));
  const core = await openCore({
    storageDir: path.join(root, 'storage'), wasmPath: WASM, workspaceFolders: { folders: () => [path.join(root, 'ws')] }, watch: false, tickMs: 100,
    settings: () => ({ agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20, review: { required: 'auto', maxRounds: 3 } }),
  });
  try {
    core.providers.edit('ollama-local', { baseUrl: fake.url, maxConcurrency: 2 });
    const ada = await core.agents.create({ name: 'Ada', role: 'developer', model: 'gemma3:1b' });
    await core.agents.create({ name: 'Critic', role: 'reviewer', skills: ['review'], model: 'deepseek-coder-v2:16b' });
    const folder = core.agents.folderOf(ada);
    for (let i = 0; i < 200; i++) {
      fs.mkdirSync(path.join(folder, 'src', `m${i % 10}`), { recursive: true });
      fs.writeFileSync(path.join(folder, 'src', `m${i % 10}`, `f${i}.js`), `// file ${i}\n${'export const x = 1;\n'.repeat(40)}`);
    }
    let asked = 0;
    let reviewerModel = 0;
    let completedAt = 0;
    core.runs.onRunEvent(e => {
      if (e.agentId === ada.id) {
        if (e.event.type === 'action' && e.event.call.name === 'complete') completedAt = performance.now();
        return;
      }
      if (e.event.type === 'model') asked = performance.now();
      if (e.event.type === 'reply') reviewerModel += performance.now() - asked;
    });
    const overheads: number[] = [];
    const snaps: number[] = [];
    for (let i = 0; i < 7; i++) {
      let n = 0;
      fake.options.defaultReply = ((req: ChatRequestView) => (req.model === 'gemma3:1b' && n++ % 2 === 1 ? { content: '<complete>\n<result>done</result>\n</complete>' } : reply(req))) as unknown as ScriptedReply;
      reviewerModel = 0;
      const task = core.tasks.create({ title: `change ${i}`, assigneeId: ada.id });
      const done = new Promise<number>(resolve => {
        const sub = core.changes.event(() => {
          if (core.tasks.find(task.id)?.status === 'completed') {
            sub.dispose();
            resolve(performance.now());
          }
        });
      });
      await core.app.runTask(task.id);
      const end = await done;
      const t = performance.now();
      await snapshotFolder(folder);
      const snap = performance.now() - t;
      if (i > 0) {
        overheads.push(end - completedAt - reviewerModel + snap);
        snaps.push(snap);
      }
      if (core.app.reviews(task.id)[0]?.verdict !== 'approve') throw new Error('the review did not approve');
    }
    const ms = median(overheads);
    console.log(`one review round with a 200-file folder: ${ms.toFixed(1)} ms beyond model time (median of ${overheads.length}; of which the folder snapshot ${median(snaps).toFixed(1)} ms)`);
    console.log(`[bench] review_round_overhead_ms=${ms.toFixed(2)}`);
  } finally {
    await core.close();
    await fake.close();
    fs.rmSync(root, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  e => {
    console.error(e);
    process.exit(1);
  },
);
