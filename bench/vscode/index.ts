/**
 * Benchmarks that need a real VS Code extension host (run by bench/index.ts through the code-server
 * driver): how long activate() takes to return, against hello-world extensions activated in the same
 * extension host (AI2AI_BENCH_HELLO_WORLDS copies of bench/vscode/hello-world), and how long the Tasks tree
 * takes to produce 10,000 tasks. Prints `[bench] name=value` lines that bench/index.ts collects.
 */
import * as vscode from 'vscode';
import type { Ai2aiApi } from '../../src/extension';
import type { TaskNode } from '../../src/vscode/trees/tasksTree';
import type { AgentNode } from '../../src/vscode/trees/agentsTree';

function report(name: string, value: number, digits = 2): void {
  console.log(`[bench] ${name}=${value.toFixed(digits)}`);
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

export async function run(): Promise<void> {
  const ext = vscode.extensions.getExtension<Ai2aiApi>('ai2ai.ai2ai');
  if (!ext) throw new Error('extension ai2ai.ai2ai not found');
  const hellos = vscode.extensions.all.filter(e => /^ai2ai-bench\.hello-world-\d+$/.test(e.id)) as Array<vscode.Extension<{ readonly activationMs: number }>>;
  if (!hellos.length) throw new Error('no hello-world extension loaded: run with AI2AI_BENCH_HELLO_WORLDS=7');
  // All of them declare onStartupFinished: activated by that event together, or here, one after the other.
  const before = [ext, ...hellos].filter(e => e.isActive).length;
  console.log(`[bench-info] active before the benchmark: ${before} of ${hellos.length + 1} (AI2AI and ${hellos.length} hello-worlds)`);
  // The hello-worlds first: each is then measured before AI2AI's 40 registerCommand calls have warmed the code
  // they share, as AI2AI's own activate() is. The first one also pays the extension host's first activation
  // through this path (several times the others): the median leaves it out.
  const helloMs: number[] = [];
  for (const h of hellos) helloMs.push((await h.activate()).activationMs);
  const api = await ext.activate();
  console.log(`[bench-info] hello-world activate() ms: ${helloMs.map(x => x.toFixed(3)).join(', ')}`);
  report('activate_ms', api.activationMs);
  report('hello_activate_ms', median(helloMs), 3);
  report('activate_over_hello', api.activationMs / median(helloMs), 1);
  const t0 = performance.now();
  const core = await api.ready;
  report('database_open_after_activate_ms', performance.now() - t0);

  const agent = core.agents.findByName('Bench') ?? (await core.agents.create({ name: 'Bench', role: 'developer', model: 'gemma3:1b' }));
  const N = 10_000;
  const existing = core.tasks.list().length;
  const now = Date.now();
  // One mutation for the bulk load: the benchmark is about showing tasks, not writing them.
  core.store.mutate(tx => {
    for (let i = existing; i < N; i++) {
      tx.run(
        `INSERT INTO tasks (id, title, description, required_skills, priority, status, assignee_id, attachments, attempts, created_at, updated_at)
         VALUES (?, ?, '', '["javascript"]', ?, ?, ?, '[]', 0, ?, ?)`,
        [`bench-${i}`, `Benchmark task ${i}`, i % 4, ['pending', 'completed', 'failed', 'blocked'][i % 4], i % 2 ? agent.id : null, now + i, now + i],
      );
    }
  });
  await vscode.commands.executeCommand('ai2ai.tasks.focus');

  const times: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    api.trees.tasks.refreshNow(); // drops the cache, as any change does
    let items = 0;
    for (const group of api.trees.tasks.getChildren() as TaskNode[]) {
      api.trees.tasks.getTreeItem(group);
      for (const node of api.trees.tasks.getChildren(group) as TaskNode[]) {
        api.trees.tasks.getTreeItem(node);
        items++;
      }
    }
    times.push(performance.now() - start);
    if (items !== N) throw new Error(`expected ${N} tasks in the tree, saw ${items}`);
  }
  report('tasks_tree_10000_ms', median(times));

  const agentTimes: number[] = [];
  for (let round = 0; round < 5; round++) {
    const start = performance.now();
    for (const n of api.trees.agents.getChildren() as AgentNode[]) api.trees.agents.getTreeItem(n);
    agentTimes.push(performance.now() - start);
  }
  report('agents_tree_with_10000_tasks_ms', median(agentTimes));
  console.log('1 passed, 0 failed');
}
