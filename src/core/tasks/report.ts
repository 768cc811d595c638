/** A task's whole story as Markdown, rendered from the application layer's typed `TaskDetails`. */
import type { RunTranscript, TaskDetails } from '../app/application';
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
  if (task.failureReason) out.push('', task.status === 'cancelled' ? '## Why it was cancelled' : '## Why it stopped', '', task.failureReason);
  if (r.review || r.reviews.length) {
    out.push('', '## Review');
    if (r.review) {
      out.push('', `Round ${r.review.round} of ${r.review.maxRounds}${r.review.reviewer ? ` · reviewer @${r.review.reviewer}` : ''}${r.review.hint ? ` · ${r.review.hint}` : ''}`);
    }
    for (const v of r.reviews) {
      out.push('', `### Round ${v.round}: ${v.verdict === 'approve' ? '✅ approved' : '✍️ changes requested'} by ${v.reviewerName} · ${time(v.createdAt)}`);
      if (v.summary) out.push('', v.summary);
      if (v.findings.length) {
        out.push('');
        for (const f of v.findings) out.push(`- **${f.severity}** \`${f.file}${f.line ? `:${f.line}` : ''}\`: ${oneLine(f.comment)}`);
      }
    }
  }
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
  out.push('', '## History', '');
  for (const u of r.updates) out.push(`- ${time(u.createdAt)} \`${u.kind}\`${u.agentName ? ` ${u.agentName}` : ''}: ${oneLine(u.body)}`);
  return `${out.join('\n')}\n`;
}

function oneLine(s: string): string {
  const flat = s.replace(/\s*\n\s*/g, ' ⏎ ').replace(/\|/g, '\\|');
  return flat.length > 500 ? `${flat.slice(0, 500)}…` : flat;
}

/**
 * A run's conversation as Markdown, to read what the agent was told and what it answered: every message
 * in a fence longer than any backtick run inside it, so code in replies never breaks the page.
 */
export function renderTranscript(t: RunTranscript): string {
  const r = t.run;
  const out = [
    `# ${r.agentName} on "${t.taskTitle}"`,
    '',
    `Run started ${time(r.startedAt)} · ${r.outcome}${r.reason ? `: ${oneLine(r.reason)}` : ''} · ${r.steps} step(s) · ${r.promptTokens + r.completionTokens} tokens` +
      `${r.model ? ` · ${r.model}${r.providerName ? ` on ${r.providerName}` : ''}` : ''}`,
  ];
  let step = 0;
  for (const m of t.messages) {
    if (m.role === 'assistant') step++;
    const who = m.role === 'assistant' ? `${r.agentName} (step ${step})` : m.role === 'system' ? 'System prompt' : m.role === 'tool' ? `Tool result${m.toolName ? `: ${m.toolName}` : ''}` : 'To the model';
    const calls = m.toolCalls?.length ? `\n\nTool calls: ${m.toolCalls.map(c => `${c.name} ${JSON.stringify(c.arguments)}`).join('; ')}` : '';
    const longest = Math.max(2, ...[...m.content.matchAll(/`+/g)].map(x => x[0].length));
    const fence = '`'.repeat(longest + 1);
    out.push('', `## ${who}`, '', `${fence}text`, m.content, fence + calls);
  }
  if (!t.messages.length) out.push('', 'The transcript holds no conversation.');
  return `${out.join('\n')}\n`;
}
