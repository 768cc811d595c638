/** A task's whole story as Markdown, rendered from the application layer's typed `TaskDetails`. */
import type { TaskDetails } from '../app/application';
import { PRIORITY_LABELS } from '../model/schemas';

const time = (ms: number) => new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, '');

export function renderTaskReport(r: TaskDetails): string {
  const { task } = r;
  const out = [
    `# ${task.title}`,
    '',
    `**${task.status.replace('_', ' ')}** · priority ${PRIORITY_LABELS[task.priority]} · assigned to ${r.assignee?.name ?? 'nobody'} · ` +
      `${task.attempts} attempt(s) · created ${time(task.createdAt)}`,
  ];
  if (r.queue) out.push('', `Waiting: ${r.queue}`);
  if (task.assignReason && r.assignee) out.push('', `Why ${r.assignee.name}: ${task.assignReason}`);
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
        `| ${time(run.startedAt)} | ${run.agentName} | ${run.outcome}${run.reason ? `: ${oneLine(run.reason)}` : ''}${run.resumedFrom ? ' (resumed)' : ''} | ${run.steps} | ` +
          `${run.promptTokens + run.completionTokens} | ${(run.modelMs / 1000).toFixed(1)} s | ${run.testsPassed} passed, ${run.testsFailed} failed |`,
      );
    }
  }
  if (r.changes.length) {
    out.push('', '## Proposed changes', '', 'Files outside the agent\'s folder it wants to change ("AI2AI: Review Changes" opens them in the diff view):', '');
    for (const c of r.changes) out.push(`- \`${c.path}\`${c.deletes ? ' (delete)' : ''}: ${c.status}${c.conflict ? `: ${oneLine(c.conflict)}` : ''}`);
  }
  if (r.messages.length) {
    out.push('', '## Messages', '');
    for (const m of r.messages) out.push(`- ${time(m.createdAt)} **${m.fromName}** → ${m.toName}: ${oneLine(m.body)}`);
  }
  const names = new Map(r.runs.map(x => [x.agentId, x.agentName]));
  out.push('', '## History', '');
  for (const u of r.updates) out.push(`- ${time(u.createdAt)} \`${u.kind}\`${u.agentId ? ` ${names.get(u.agentId) ?? (u.agentId === r.assignee?.id ? r.assignee.name : 'an agent')}` : ''}: ${oneLine(u.body)}`);
  return `${out.join('\n')}\n`;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, ' ⏎ ').replace(/\|/g, '\\|');
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}
