/** A task's whole story as Markdown: what it asks, where it stands, every update, message and run. */
import type { Agent, Message, Run, Task, TaskUpdate } from '../model/schemas';
import { PRIORITY_LABELS } from '../model/schemas';

export interface TaskReportInput {
  task: Task;
  agents: ReadonlyMap<string, Pick<Agent, 'name'>>;
  dependsOn: ReadonlyArray<Pick<Task, 'title' | 'status'>>;
  updates: readonly TaskUpdate[];
  messages: readonly Message[];
  runs: readonly Run[];
}

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');

export function renderTaskReport(r: TaskReportInput): string {
  const { task } = r;
  const name = (id: string | null) => (id ? (r.agents.get(id)?.name ?? 'a deleted agent') : 'nobody');
  const out = [
    `# ${task.title}`,
    '',
    `**${task.status.replace('_', ' ')}** · priority ${PRIORITY_LABELS[task.priority]} · assigned to ${name(task.assigneeId)} · ` +
      `${task.attempts} attempt(s) · created ${time(task.createdAt)}`,
  ];
  if (task.requiredSkills.length) out.push('', `Skills: ${task.requiredSkills.join(', ')}`);
  if (task.testCommand) out.push('', `Test command: \`${task.testCommand}\``);
  if (r.dependsOn.length) out.push('', `Waits for: ${r.dependsOn.map(d => `${d.title} (${d.status.replace('_', ' ')})`).join('; ')}`);
  if (task.description.trim()) out.push('', '## Description', '', task.description.trim());
  if (task.result) out.push('', '## Result', '', task.result);
  if (task.failureReason) out.push('', '## Why it stopped', '', task.failureReason);
  if (r.runs.length) {
    out.push('', '## Runs', '', '| started | agent | outcome | steps | tokens | model time | tests |', '|---|---|---|---|---|---|---|');
    for (const run of r.runs) {
      out.push(
        `| ${time(run.startedAt)} | ${name(run.agentId)} | ${run.outcome}${run.reason ? `: ${oneLine(run.reason)}` : ''} | ${run.steps} | ` +
          `${run.promptTokens + run.completionTokens} | ${(run.modelMs / 1000).toFixed(1)} s | ${run.testsPassed} passed, ${run.testsFailed} failed |`,
      );
    }
  }
  if (r.messages.length) {
    out.push('', '## Messages', '');
    for (const m of r.messages) out.push(`- ${time(m.createdAt)} **${name(m.fromAgent)}** → ${m.toAgent ? name(m.toAgent) : 'everyone'}: ${oneLine(m.body)}`);
  }
  out.push('', '## History', '');
  for (const u of r.updates) out.push(`- ${time(u.createdAt)} \`${u.kind}\`${u.agentId ? ` ${name(u.agentId)}` : ''}: ${oneLine(u.body)}`);
  return `${out.join('\n')}\n`;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, ' ⏎ ').replace(/\|/g, '\\|');
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}
