/**
 * The dashboard's HTML, from `core.stats`: tables and charts drawn as inline SVG (no chart library, no
 * network). Kept free of `vscode` so the benchmark renders it in plain Node. Colours come from the theme's
 * CSS variables; no inline `style` attributes, so the page runs under a strict Content-Security-Policy.
 */
import type { AgentStats, ProviderStats, Stats } from '../core/app/stats';

const esc = (s: unknown): string =>
  String(s ?? '').replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
const pct = (v: number | null): string => (v === null ? '–' : `${Math.round(v * 100)}%`);
const num = (v: number): string => (v >= 1e6 ? `${(v / 1e6).toFixed(1)}M` : v >= 1e4 ? `${(v / 1e3).toFixed(1)}k` : String(Math.round(v)));
const dur = (ms: number | null): string => (ms === null ? '–' : ms < 1000 ? `${Math.round(ms)} ms` : ms < 120_000 ? `${(ms / 1000).toFixed(1)} s` : `${(ms / 60_000).toFixed(1)} min`);
const rate = (v: number | null): string => (v === null ? '–' : v.toFixed(1));

function agentRows(agents: AgentStats[]): string {
  if (!agents.length) return '<p class="empty">No agents yet.</p>';
  const rows = agents.map(a => {
    const skills = a.bySkill.map(k => `<span class="chip" title="${esc(`${k.completed}/${k.runs} runs completed; ${k.approved}/${k.reviews} reviews passed`)}">${esc(k.skill)} ${pct(k.successRate)} · ${pct(k.reviewPassRate)}</span>`).join(' ');
    const cur = a.current ? `${esc(a.current.title)} <span class="dim">step ${a.current.step}</span>` : '<span class="dim">–</span>';
    return `<tr data-agent="${esc(a.id)}"><td>${esc(a.name)}<div class="dim">${esc(a.model)}</div></td><td class="st st-${esc(a.status)}">${esc(a.status)}</td><td>${cur}</td>` +
      `<td class="n">${a.completed}/${a.runs} · ${pct(a.successRate)}</td><td class="n">${pct(a.reviewPassRate)}</td><td>${skills || '<span class="dim">–</span>'}</td>` +
      `<td class="n">${dur(a.meanDurationMs)}</td><td class="n">${num(a.promptTokens)} / ${num(a.completionTokens)}</td><td class="n">${dur(a.modelMs)}</td></tr>`;
  });
  return `<table><thead><tr><th>Agent</th><th>Status</th><th>Current task</th><th>Success</th><th>Review pass</th><th>Per skill (success · review)</th><th>Mean duration</th><th>Tokens (prompt / generated)</th><th>Model time</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function cacheBar(share: number | null): string {
  if (share === null) return '<span class="dim">–</span>';
  const w = Math.round(Math.max(0, Math.min(1, share)) * 60);
  return `<svg class="bar" width="62" height="10" role="img" aria-label="prompt cache ${pct(share)}"><rect x="0" y="0" width="62" height="10" class="track"/><rect x="1" y="1" width="${w}" height="8" class="fill"/></svg> ${pct(share)}`;
}

function providerRows(providers: ProviderStats[]): string {
  const rows = providers.flatMap(p => {
    const state = p.online === null ? '<span class="dim">not checked</span>' : p.online ? '<span class="ok">online</span>' : `<span class="bad" title="${esc(p.offlineReason)}">offline</span>`;
    if (!p.models.length) return [`<tr><td>${esc(p.name)}</td><td>${state}</td><td colspan="9" class="dim">no models in use</td></tr>`];
    return p.models.map((m, i) => {
      const errors = m.errors ? `${m.errors} <span class="dim">${esc(Object.entries(m.errorKinds).map(([k, n]) => `${k} ${n}`).join(', '))}</span>` : '0';
      return `<tr data-model="${esc(`${p.id}/${m.model}`)}"><td>${i ? '' : esc(p.name)}</td><td>${i ? '' : state}</td><td>${esc(m.model)}${m.loaded ? ' <span class="chip">loaded</span>' : ''}</td>` +
        `<td class="n">${m.slotsInUse}/${m.slots}</td><td class="n">${m.queued}</td><td class="n">${rate(m.generationTokensPerSec)}</td><td class="n">${rate(m.promptTokensPerSec)}</td><td class="n">${rate(m.tokensPerSec)}</td>` +
        `<td class="cache">${cacheBar(m.cacheShare)}</td><td class="n">${m.runs}</td><td class="n">${errors}</td></tr>`;
    });
  });
  return `<table><thead><tr><th>Provider</th><th>State</th><th>Model</th><th>Slots in use</th><th>Queued</th><th title="eval_count / eval_duration">Generation tok/s</th><th title="prompt tokens evaluated (not cached) / prompt_eval_duration">Prompt tok/s</th><th title="all tokens processed / model time">All tok/s</th><th>Prompt cache</th><th>Runs</th><th>Errors</th></tr></thead><tbody>${rows.join('')}</tbody></table>`;
}

function hourlyChart(s: Stats): string {
  const W = 640, H = 140, pad = 24;
  const max = Math.max(1, ...s.hourly.map(h => h.completed + h.failed));
  const bw = (W - pad) / s.hourly.length;
  const bars = s.hourly.map((h, i) => {
    const x = pad + i * bw + 1;
    const hc = ((H - 20) * h.completed) / max, hf = ((H - 20) * h.failed) / max;
    const label = new Date(h.hour).getHours().toString().padStart(2, '0');
    return `<rect class="c-ok" x="${x.toFixed(1)}" y="${(H - 16 - hc).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${hc.toFixed(1)}"><title>${label}:00 · ${h.completed} completed</title></rect>` +
      `<rect class="c-bad" x="${x.toFixed(1)}" y="${(H - 16 - hc - hf).toFixed(1)}" width="${(bw - 2).toFixed(1)}" height="${hf.toFixed(1)}"><title>${label}:00 · ${h.failed} failed</title></rect>` +
      (i % Math.ceil(s.hourly.length / 12) === 0 ? `<text x="${(x + bw / 2).toFixed(1)}" y="${H - 3}" class="axis" text-anchor="middle">${label}</text>` : '');
  });
  return `<svg viewBox="0 0 ${W} ${H}" class="chart" role="img" aria-label="tasks completed and failed per hour"><text x="0" y="12" class="axis">${max}</text><line x1="${pad}" y1="${H - 16}" x2="${W}" y2="${H - 16}" class="axisline"/>${bars.join('')}</svg>`;
}

function roundsChart(s: Stats): string {
  const r = s.reviewRounds;
  if (!r.tasks) return '<p class="empty">No reviewed tasks yet.</p>';
  const max = Math.max(...r.histogram.map(h => h.tasks));
  const rows = r.histogram.map((h, i) => `<text x="0" y="${i * 18 + 13}" class="axis">${h.rounds} round${h.rounds === 1 ? '' : 's'}</text><rect class="c-acc" x="70" y="${i * 18 + 3}" width="${((200 * h.tasks) / max).toFixed(1)}" height="12"/><text x="${(76 + (200 * h.tasks) / max).toFixed(1)}" y="${i * 18 + 13}" class="axis">${h.tasks}</text>`);
  return `<p>${r.tasks} reviewed task(s), ${r.mean!.toFixed(2)} rounds on average</p><svg viewBox="0 0 320 ${r.histogram.length * 18 + 4}" class="chart small" role="img" aria-label="review rounds per task">${rows.join('')}</svg>`;
}

function timeline(s: Stats): string {
  if (!s.agents.length) return '';
  const W = 640, lane = 18, left = 90;
  const end = s.generatedAt, start = end - s.hours * 3_600_000;
  const x = (t: number) => left + ((Math.max(start, Math.min(end, t)) - start) / (end - start)) * (W - left);
  const lanes = new Map(s.agents.map((a, i) => [a.id, i]));
  const names = s.agents.map((a, i) => `<text x="0" y="${i * lane + 13}" class="axis">${esc(a.name.slice(0, 14))}</text><line x1="${left}" y1="${i * lane + lane - 1}" x2="${W}" y2="${i * lane + lane - 1}" class="grid"/>`);
  const runs = s.timeline.flatMap(r => {
    const i = lanes.get(r.agentId);
    if (i === undefined) return [];
    const x0 = x(r.startedAt), x1 = x(r.endedAt ?? end);
    return [`<rect class="o-${esc(r.outcome)}" x="${x0.toFixed(1)}" y="${i * lane + 3}" width="${Math.max(1.5, x1 - x0).toFixed(1)}" height="${lane - 6}"><title>${esc(r.outcome)} · ${dur((r.endedAt ?? end) - r.startedAt)}</title></rect>`];
  });
  const h = s.agents.length * lane + 14;
  return `<svg viewBox="0 0 ${W} ${h}" class="chart" role="img" aria-label="runs per agent over the last ${s.hours} hours">${names.join('')}${runs.join('')}<text x="${left}" y="${h - 2}" class="axis">−${s.hours} h</text><text x="${W}" y="${h - 2}" class="axis" text-anchor="end">now</text></svg>`;
}

/** The dashboard's body: everything that changes with the figures. */
export function renderDashboardBody(s: Stats): string {
  const t = s.totals;
  const cache = t.promptTokens ? t.cachedTokens / t.promptTokens : null;
  const tiles = [
    ['Running', t.running], ['Queued', t.queued], ['In review', t.inReview], ['Completed today', t.completedToday], ['Failed today', t.failedToday],
    ['Tokens', `${num(t.promptTokens + t.completionTokens)}`], ['Model time', dur(t.modelMs)], ['Prompt cache', pct(cache)],
  ].map(([k, v]) => `<div class="tile"><div class="v">${esc(v)}</div><div class="k">${esc(k)}</div></div>`);
  return `<section class="tiles">${tiles.join('')}</section>` +
    `<h2>Agents</h2>${agentRows(s.agents)}` +
    `<h2>Providers and models</h2>${providerRows(s.providers)}` +
    `<h2>Tasks per hour <span class="dim">(last ${s.hours} h: <span class="k-ok">completed</span>, <span class="k-bad">failed</span>)</span></h2>${hourlyChart(s)}` +
    `<h2>Review rounds per task</h2>${roundsChart(s)}` +
    `<h2>Runs per agent <span class="dim">(last ${s.hours} h)</span></h2>${timeline(s)}` +
    `<p class="dim foot">Updated ${esc(new Date(s.generatedAt).toLocaleTimeString())}</p>`;
}

const STYLE = `
body{font-family:var(--vscode-font-family);font-size:var(--vscode-font-size);color:var(--vscode-foreground);padding:0 16px 16px}
h1{font-size:1.4em;margin:12px 0}h2{font-size:1.1em;margin:20px 0 6px}
table{border-collapse:collapse;width:100%}th,td{padding:3px 8px;border-bottom:1px solid var(--vscode-editorWidget-border,#8884);text-align:left;vertical-align:top}
th{font-weight:600;color:var(--vscode-descriptionForeground)}td.n{text-align:right;white-space:nowrap}
.dim{color:var(--vscode-descriptionForeground)}.empty{color:var(--vscode-descriptionForeground);font-style:italic}
.chip{display:inline-block;padding:0 6px;border-radius:8px;background:var(--vscode-badge-background);color:var(--vscode-badge-foreground);font-size:.85em;margin:1px}
.tiles{display:flex;flex-wrap:wrap;gap:8px;margin:8px 0}.tile{border:1px solid var(--vscode-editorWidget-border,#8884);border-radius:4px;padding:6px 12px;min-width:90px}
.tile .v{font-size:1.5em;font-weight:600}.tile .k{color:var(--vscode-descriptionForeground)}
.ok,.k-ok{color:var(--vscode-testing-iconPassed,#3a3)}.bad,.k-bad{color:var(--vscode-testing-iconFailed,#c33)}
.st-error{color:var(--vscode-errorForeground)}.st-busy{color:var(--vscode-progressBar-background)}
.chart{width:100%;max-width:900px}.chart.small{max-width:420px}
.axis{font-size:10px;fill:var(--vscode-descriptionForeground)}.axisline,.grid{stroke:var(--vscode-editorWidget-border,#8884)}
.c-ok,.o-completed{fill:var(--vscode-testing-iconPassed,#3a3)}.c-bad,.o-failed,.o-error{fill:var(--vscode-testing-iconFailed,#c33)}
.c-acc,.fill,.o-running{fill:var(--vscode-progressBar-background,#06c)}.track{fill:var(--vscode-input-background,#8882)}
.o-cancelled,.o-interrupted{fill:var(--vscode-disabledForeground,#888)}
.bar{vertical-align:middle}td.cache{white-space:nowrap}
.actions{float:right;margin-top:12px}button{background:var(--vscode-button-background);color:var(--vscode-button-foreground);border:0;padding:4px 10px;margin-left:4px;cursor:pointer}
button:hover{background:var(--vscode-button-hoverBackground)}
`;

/**
 * The whole page. `nonce` allows the one script and style; the CSP forbids everything else, network
 * included. The script only swaps the body when the extension posts a new one and forwards the export buttons.
 */
export function renderDashboardPage(s: Stats, nonce: string, cspSource = ''): string {
  const csp = `default-src 'none'; img-src ${cspSource} data:; style-src 'nonce-${nonce}'; script-src 'nonce-${nonce}';`;
  return `<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="${csp}">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1"><title>AI2AI Dashboard</title><style nonce="${nonce}">${STYLE}</style></head>` +
    `<body><div class="actions"><button data-export="csv">Export CSV</button><button data-export="json">Export JSON</button></div><h1>AI2AI Dashboard</h1>` +
    `<main id="body">${renderDashboardBody(s)}</main>` +
    `<script nonce="${nonce}">const vscode=acquireVsCodeApi();` +
    `window.addEventListener('message',e=>{if(e.data&&e.data.type==='body'){document.getElementById('body').innerHTML=e.data.html;vscode.postMessage({type:'rendered',seq:e.data.seq});}});` +
    `document.querySelectorAll('button[data-export]').forEach(b=>b.addEventListener('click',()=>vscode.postMessage({type:'export',format:b.dataset.export})));` +
    `vscode.postMessage({type:'rendered',seq:0});</script></body></html>`;
}
