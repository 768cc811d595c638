/**
 * The task details view as HTML, rendered from the application layer's typed `TaskDetails`. Pure (no
 * `vscode` import), so it is tested under plain Node. Everything from the database is escaped; the page
 * loads nothing (no network, no remote or local resources), styles and script carry the panel's nonce,
 * colours and fonts come from the theme's CSS variables, and there are no inline handlers or style
 * attributes (the Content-Security-Policy forbids them). Buttons carry an action and an id; the panel
 * turns them into the extension's commands.
 */
import type { RunDetails, TaskDetails } from '../../core/app/application';
import { PRIORITY_LABELS } from '../../core/model/labels';
import type { TaskStatus } from '../../core/model/schemas';
import { formatDuration } from '../../core/format';

/** What a button asks for; `id` is the task, agent or run it is about. */
export type PanelAction = 'run' | 'cancel' | 'retry' | 'reassign' | 'openFolder' | 'transcript' | 'approve' | 'requestChanges' | 'showChanges';
export const PANEL_ACTIONS: readonly PanelAction[] = ['run', 'cancel', 'retry', 'reassign', 'openFolder', 'transcript', 'approve', 'requestChanges', 'showChanges'];

export interface PanelPage {
  /** A fresh random value per page: the only style and script allowed to run. */
  nonce: string;
  /** The body, from `renderTaskBody`. */
  body: string;
  title: string;
}

/** The Content-Security-Policy of the page: nothing loads (no network, no files), only the nonce'd style and script run. */
export function contentSecurityPolicy(nonce: string): string {
  return [`default-src 'none'`, `style-src 'nonce-${nonce}'`, `script-src 'nonce-${nonce}'`, `form-action 'none'`, `base-uri 'none'`].join('; ');
}

export function renderTaskPage(p: PanelPage): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${esc(contentSecurityPolicy(p.nonce))}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${esc(p.title)}</title>
<style nonce="${esc(p.nonce)}">${STYLE}</style>
</head>
<body>
<main id="root">${p.body}</main>
<script nonce="${esc(p.nonce)}">${SCRIPT}</script>
</body>
</html>`;
}

const STATUS_LABEL: Record<TaskStatus, string> = {
  pending: 'Pending', blocked: 'Blocked', in_progress: 'In progress', in_review: 'In review', completed: 'Completed', failed: 'Failed', cancelled: 'Cancelled',
};

/** The page's content for one state of the task; re-rendered live as the task changes. */
export function renderTaskBody(d: TaskDetails, now = Date.now()): string {
  const t = d.task;
  const s = t.status;
  const out: string[] = [];
  out.push(`<header><h1>${esc(t.title)}</h1><span class="badge status-${s}" data-status="${s}">${STATUS_LABEL[s]}</span></header>`);
  const who = d.assignee ? `${esc(d.assignee.name)} <span class="dim">(${esc(d.assignee.model)}, ${esc(d.assignee.status)})</span>` : 'nobody';
  out.push(
    `<p class="meta">Priority ${PRIORITY_LABELS[t.priority]} · assigned to ${who} · ${t.attempts} attempt${t.attempts === 1 ? '' : 's'} · created ${esc(when(t.createdAt, now))}` +
      `${t.completedAt ? ` · ended ${esc(when(t.completedAt, now))}` : ''}</p>`,
  );
  out.push(actions(d));
  const facts: string[] = [];
  if (d.running) facts.push(`<li>Running now${d.assignee ? ` (${esc(d.assignee.name)})` : ''}.</li>`);
  if (d.queue) facts.push(`<li>Waiting: ${esc(d.queue)}</li>`);
  if (t.assignReason && d.assignee) facts.push(`<li>Why ${esc(d.assignee.name)}: ${esc(t.assignReason)}</li>`);
  if (t.requiredSkills.length) facts.push(`<li>Skills: ${t.requiredSkills.map(esc).join(', ')}</li>`);
  if (t.testCommand) facts.push(`<li>Test command: <code>${esc(t.testCommand)}</code></li>`);
  if (t.attachments.length) facts.push(`<li>Attached: ${t.attachments.map(a => `<code>${esc(a)}</code>`).join(', ')}</li>`);
  if (d.dependsOn.length) facts.push(`<li>Waits for: ${d.dependsOn.map(x => `${esc(x.title)} <span class="dim">(${esc(STATUS_LABEL[x.status])})</span>`).join('; ')}</li>`);
  if (facts.length) out.push(`<ul class="facts">${facts.join('')}</ul>`);
  if (t.description.trim()) out.push(section('Description', `<div class="text">${esc(t.description.trim())}</div>`));
  if (t.result) out.push(section('Result', `<div class="text result">${esc(t.result)}</div>`));
  if (t.failureReason && (s === 'failed' || s === 'cancelled')) out.push(section(s === 'cancelled' ? 'Why it was cancelled' : 'Why it stopped', `<div class="text reason">${esc(t.failureReason)}</div>`));
  out.push(section(`Runs (${d.runs.length})`, d.runs.length ? runsTable(d.runs, now) : '<p class="dim">No runs yet.</p>', 'runs'));
  if (d.review || d.reviews.length) out.push(section('Review', reviewHtml(d, now), 'review'));
  const feedback = d.updates.filter(u => u.kind === 'feedback' && !d.reviews.length);
  if (feedback.length) out.push(section('Feedback', `<ul class="timeline">${feedback.map(u => update(u, d, now)).join('')}</ul>`));
  if (d.messages.length) {
    out.push(
      section(
        `Messages (${d.messages.length})`,
        `<ul class="timeline">${d.messages
          .map(m => `<li><time>${esc(when(m.createdAt, now))}</time> <strong>${esc(m.fromName)}</strong> → ${esc(m.toName)}<div class="text">${esc(clip(m.body))}</div></li>`)
          .join('')}</ul>`,
      ),
    );
  }
  out.push(section(`Timeline (${d.updates.length})`, `<ul class="timeline">${d.updates.map(u => update(u, d, now)).join('')}</ul>`, 'timeline'));
  return out.join('\n');
}

/** The review rounds: where it stands, then every verdict with its findings. */
function reviewHtml(d: TaskDetails, now: number): string {
  const out: string[] = [];
  if (d.review) {
    out.push(
      `<p class="meta">Round ${d.review.round} of ${d.review.maxRounds}${d.review.reviewer ? ` · reviewer ${esc(d.review.reviewer)}` : ''}` +
        `${d.review.hint ? ` · ${esc(d.review.hint)}` : ''}</p>`,
    );
  }
  for (const v of d.reviews) {
    const verdict = v.verdict === 'approve' ? 'approved' : 'changes requested';
    const findings = v.findings.length
      ? `<ul class="findings">${v.findings
          .map(f => `<li><span class="badge severity-${esc(f.severity)}">${esc(f.severity)}</span> <code>${esc(f.file)}${f.line ? `:${f.line}` : ''}</code> ${esc(f.comment)}</li>`)
          .join('')}</ul>`
      : '';
    out.push(
      `<div class="verdict verdict-${esc(v.verdict)}"><h3>Round ${v.round}: ${verdict} by ${esc(v.reviewerName)} <time>${esc(when(v.createdAt, now))}</time></h3>` +
        `${v.summary ? `<div class="text">${esc(v.summary)}</div>` : ''}${findings}</div>`,
    );
  }
  return out.join('');
}

function actions(d: TaskDetails): string {
  const t = d.task;
  const s = t.status;
  const b: string[] = [];
  const button = (action: PanelAction, label: string, id: string, primary = false) =>
    `<button type="button" class="${primary ? 'primary' : 'secondary'}" data-action="${action}" data-id="${esc(id)}">${esc(label)}</button>`;
  if ((s === 'pending' || s === 'failed' || s === 'cancelled') && !d.running) b.push(button('run', s === 'pending' ? 'Run' : 'Run Again', t.id, true));
  if (s === 'pending' || s === 'blocked' || s === 'in_progress' || s === 'in_review') b.push(button('cancel', 'Cancel', t.id));
  if (s === 'failed' || s === 'cancelled') b.push(button('retry', 'Retry', t.id));
  if (s === 'in_review') b.push(button('approve', 'Approve', t.id, true), button('requestChanges', 'Request Changes…', t.id));
  if (d.runs.some(r => r.diff)) b.push(button('showChanges', 'Show Changes', t.id));
  if (s !== 'in_progress' && s !== 'in_review' && s !== 'completed') b.push(button('reassign', d.assignee ? 'Reassign…' : 'Assign…', t.id));
  if (d.assignee) b.push(button('openFolder', `Open ${d.assignee.name}'s Folder`, d.assignee.id));
  const last = [...d.runs].reverse().find(r => r.transcript);
  if (last) b.push(button('transcript', 'Show Transcript', last.id));
  return `<nav class="actions">${b.join('')}</nav>`;
}

function runsTable(runs: readonly RunDetails[], now: number): string {
  const rows = runs.map(r => {
    const tokens = r.promptTokens + r.completionTokens;
    const cached = r.cachedTokens ? ` <span class="dim">(${r.cachedTokens} cached)</span>` : '';
    const tests = r.testsPassed || r.testsFailed ? `${r.testsPassed} passed, ${r.testsFailed} failed` : '<span class="dim">none</span>';
    const agent = `${esc(r.agentName)}${r.agentDeleted ? ' <span class="dim">(deleted)</span>' : ''}`;
    const on = [r.model, r.providerName].filter(Boolean).map(x => esc(String(x))).join(' on ');
    const took = r.endedAt ? formatDuration(r.endedAt - r.startedAt) : 'running';
    return (
      `<tr data-run="${esc(r.id)}" data-outcome="${esc(r.outcome)}"><td>${esc(when(r.startedAt, now))}<div class="dim">${esc(took)}</div></td>` +
      `<td>${agent}<div class="dim">${on}</div></td>` +
      `<td><span class="badge outcome-${esc(r.outcome)}">${esc(r.outcome)}</span>${r.resumedFrom ? ' <span class="dim">(resumed)</span>' : ''}` +
      `${r.reason ? `<div class="text small">${esc(clip(r.reason, 600))}</div>` : ''}</td>` +
      `<td class="num">${r.steps}</td><td class="num">${tokens}${cached}</td><td class="num">${(r.modelMs / 1000).toFixed(1)} s</td><td>${tests}</td>` +
      `<td>${r.transcript ? `<button type="button" class="link" data-action="transcript" data-id="${esc(r.id)}">Transcript</button>` : ''}</td></tr>`
    );
  });
  return (
    '<table class="runs"><thead><tr><th>Started</th><th>Agent</th><th>Outcome</th><th>Steps</th><th>Tokens</th><th>Model time</th><th>Tests</th><th></th></tr></thead>' +
    `<tbody>${rows.join('')}</tbody></table>`
  );
}

function update(u: TaskDetails['updates'][number], d: TaskDetails, now: number): string {
  const names = new Map(d.runs.map(r => [r.agentId, r.agentName]));
  const who = u.agentId ? (u.agentName ?? names.get(u.agentId) ?? (u.agentId === d.assignee?.id ? d.assignee.name : 'an agent')) : '';
  return `<li class="kind-${esc(u.kind)}"><time>${esc(when(u.createdAt, now))}</time> <span class="badge kind">${esc(u.kind)}</span>${who ? ` <strong>${esc(who)}</strong>` : ''}<div class="text">${esc(clip(u.body))}</div></li>`;
}

function section(title: string, html: string, id?: string): string {
  return `<section${id ? ` id="${id}"` : ''}><h2>${esc(title)}</h2>${html}</section>`;
}

/** A time as the reader needs it: the clock time today, the date and time before. */
export function when(ms: number, now = Date.now()): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, '0');
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  const same = new Date(now).toDateString() === d.toDateString();
  return same ? time : `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${time}`;
}

function clip(s: string, max = 4000): string {
  return s.length > max ? `${s.slice(0, max)}… (${s.length - max} more characters)` : s;
}

export function esc(s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

/** The theme's own variables: the page follows light, dark and high-contrast themes. */
const STYLE = `
body { font-family: var(--vscode-font-family); font-size: var(--vscode-font-size); color: var(--vscode-foreground); background: var(--vscode-editor-background); padding: 0 20px 24px; line-height: 1.45; }
header { display: flex; align-items: center; gap: 12px; flex-wrap: wrap; }
h1 { font-size: 1.5em; font-weight: 600; margin: 16px 0 4px; }
h2 { font-size: 1.1em; font-weight: 600; margin: 20px 0 6px; padding-bottom: 4px; border-bottom: 1px solid var(--vscode-panel-border, var(--vscode-widget-border, transparent)); }
.meta, .dim, time { color: var(--vscode-descriptionForeground); }
time { font-variant-numeric: tabular-nums; margin-right: 4px; }
.verdict { border-left: 3px solid var(--vscode-charts-yellow); padding: 2px 10px; margin: 10px 0; }
.verdict-approve { border-left-color: var(--vscode-testing-iconPassed); }
.verdict h3 { font-size: 1em; margin: 4px 0; }
.findings { padding-left: 18px; }
.findings li { margin: 3px 0; }
.severity-blocker, .severity-major { background: var(--vscode-inputValidation-errorBackground); color: var(--vscode-foreground); }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 0.85em; background: var(--vscode-badge-background); color: var(--vscode-badge-foreground); }
.status-completed, .outcome-completed { background: var(--vscode-testing-iconPassed); color: var(--vscode-editor-background); }
.status-failed, .outcome-failed, .outcome-error { background: var(--vscode-testing-iconFailed); color: var(--vscode-editor-background); }
.status-in_progress, .outcome-running { background: var(--vscode-progressBar-background); color: var(--vscode-editor-background); }
.status-cancelled, .outcome-cancelled, .outcome-interrupted { background: var(--vscode-disabledForeground); color: var(--vscode-editor-background); }
.badge.kind { background: transparent; border: 1px solid var(--vscode-widget-border, var(--vscode-descriptionForeground)); color: var(--vscode-descriptionForeground); }
.actions { display: flex; gap: 8px; flex-wrap: wrap; margin: 12px 0; }
button { font-family: inherit; font-size: inherit; padding: 4px 12px; border: 1px solid var(--vscode-button-border, transparent); border-radius: 2px; cursor: pointer; }
button.primary { background: var(--vscode-button-background); color: var(--vscode-button-foreground); }
button.primary:hover { background: var(--vscode-button-hoverBackground); }
button.secondary { background: var(--vscode-button-secondaryBackground); color: var(--vscode-button-secondaryForeground); }
button.secondary:hover { background: var(--vscode-button-secondaryHoverBackground); }
button.link { background: none; border: none; padding: 0; color: var(--vscode-textLink-foreground); }
button:focus-visible { outline: 1px solid var(--vscode-focusBorder); outline-offset: 2px; }
ul.facts { padding-left: 18px; margin: 6px 0; }
.text { white-space: pre-wrap; overflow-wrap: anywhere; }
.small { font-size: 0.9em; }
.reason { color: var(--vscode-errorForeground); }
code { font-family: var(--vscode-editor-font-family); background: var(--vscode-textCodeBlock-background); padding: 0 3px; }
table.runs { border-collapse: collapse; width: 100%; }
table.runs th, table.runs td { text-align: left; vertical-align: top; padding: 4px 8px; border-bottom: 1px solid var(--vscode-widget-border, transparent); }
table.runs th { color: var(--vscode-descriptionForeground); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
ul.timeline { list-style: none; padding: 0; margin: 0; }
ul.timeline li { padding: 4px 0; border-bottom: 1px solid var(--vscode-widget-border, transparent); }
li.kind-error .text { color: var(--vscode-errorForeground); }
`;

/** Clicks become messages to the extension; new content arrives as messages; the scroll position is kept. */
const SCRIPT = `
const vscode = acquireVsCodeApi();
const root = document.getElementById('root');
document.addEventListener('click', e => {
  const b = e.target instanceof Element ? e.target.closest('[data-action]') : null;
  if (b) vscode.postMessage({ action: b.getAttribute('data-action'), id: b.getAttribute('data-id') });
});
window.addEventListener('message', e => {
  const m = e.data;
  if (m && m.type === 'render' && typeof m.html === 'string') root.innerHTML = m.html;
});
vscode.postMessage({ action: 'ready' });
`;
