import * as assert from 'node:assert/strict';
import type { TaskDetails } from '../../../src/core/app/application';
import { renderTranscript } from '../../../src/core/tasks/report';
import { contentSecurityPolicy, renderTaskBody, renderTaskPage } from '../../../src/vscode/taskPanel/render';

const now = Date.UTC(2026, 0, 10, 12);

function details(over: Partial<TaskDetails['task']> = {}): TaskDetails {
  const task = {
    id: 't1', title: 'Write <b>add</b> & "sub"', description: 'src/add.js\n<script>alert(1)</script>', requiredSkills: ['javascript'], priority: 2,
    status: 'completed' as const, assigneeId: null, parentId: null, reviewOf: null, dependsOn: [], attachments: ['src/math.js'], testCommand: null,
    result: 'Added add(a, b).', failureReason: null, attempts: 1, reviewRequired: null, reviewRound: 0, assignReason: null, leaseOwner: null, leaseExpiresAt: null,
    createdAt: now - 60_000, updatedAt: now, startedAt: now - 50_000, completedAt: now, ...over,
  };
  return {
    task,
    assignee: null,
    dependsOn: [],
    runs: [{
      id: 'r1', taskId: 't1', agentId: 'a1', agentName: 'Ada', agentDeleted: true, providerName: 'Ollama (this machine)', startedAt: now - 50_000, endedAt: now,
      outcome: 'completed', reason: null, steps: 8, promptTokens: 900, completionTokens: 100, cachedTokens: 700, modelMs: 4200, testsPassed: 2, testsFailed: 0,
      transcript: 'x.json', providerId: 'ollama-local', model: 'gemma3:1b', errorKind: null, resumedFrom: null, diff: null,
    }],
    updates: [
      { id: 'u1', taskId: 't1', agentId: 'a1', kind: 'test', body: '2 passed, 0 failed', createdAt: now - 10_000, agentName: 'Ada' },
      { id: 'u2', taskId: 't1', agentId: null, kind: 'status', body: 'in_progress → completed', createdAt: now, agentName: null },
    ],
    messages: [],
    running: false,
    reviews: [],
    reviewTasks: [],
    changes: [],
  };
}

describe('task details view (HTML)', () => {
  it('a strict Content-Security-Policy: nothing loads, only the nonce\'d style and script run', () => {
    const page = renderTaskPage({ nonce: 'abc123', title: 'T <x>', body: renderTaskBody(details(), now) });
    assert.equal(contentSecurityPolicy('abc123'), "default-src 'none'; style-src 'nonce-abc123'; script-src 'nonce-abc123'; form-action 'none'; base-uri 'none'");
    assert.match(page, /<meta http-equiv="Content-Security-Policy" content="default-src &#39;none&#39;; style-src &#39;nonce-abc123&#39;/);
    assert.match(page, /<style nonce="abc123">/);
    assert.match(page, /<script nonce="abc123">/);
    assert.doesNotMatch(page, /https?:\/\//, 'no remote resources');
    assert.doesNotMatch(page, /\sstyle="|\son[a-z]+="/, 'no inline style attributes or handlers (the policy would block them)');
    assert.match(page, /var\(--vscode-foreground\)/, 'theme variables');
    assert.match(page, /<title>T &lt;x&gt;<\/title>/);
  });

  it("renders a completed task's runs, timeline and result, everything escaped", () => {
    const body = renderTaskBody(details(), now);
    assert.match(body, /<h1>Write &lt;b&gt;add&lt;\/b&gt; &amp; &quot;sub&quot;<\/h1>/);
    assert.doesNotMatch(body, /<script>/);
    assert.match(body, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
    assert.match(body, /<h2>Runs \(1\)<\/h2><table class="runs">/);
    assert.match(body, /<tr data-run="r1" data-outcome="completed">/);
    assert.match(body, /Ada <span class="dim">\(deleted\)<\/span>/, 'the run keeps the name of its deleted agent');
    assert.match(body, /gemma3:1b on Ollama \(this machine\)/);
    assert.match(body, /1000 <span class="dim">\(700 cached\)<\/span>/);
    assert.match(body, /2 passed, 0 failed/);
    assert.match(body, /<h2>Result<\/h2><div class="text result">Added add\(a, b\)\.<\/div>/);
    assert.match(body, /<h2>Timeline \(2\)<\/h2>/);
    assert.match(body, /data-action="transcript" data-id="r1"/);
    assert.match(body, /Attached: <code>src\/math\.js<\/code>/);
  });

  it('offers the actions that fit the status, as ids', () => {
    const actions = (over: Partial<TaskDetails['task']>, extra: Partial<TaskDetails> = {}) =>
      [...renderTaskBody({ ...details(over), ...extra }, now).matchAll(/data-action="(\w+)" data-id="([^"]+)"/g)].map(m => `${m[1]}:${m[2]}`);
    assert.deepEqual(actions({}), ['transcript:r1', 'transcript:r1']);
    const ada = { id: 'a1', name: 'Ada', model: 'gemma3:1b', status: 'ready' as const };
    assert.deepEqual(actions({ status: 'failed', failureReason: 'boom', assigneeId: 'a1' }, { assignee: ada }), ['run:t1', 'retry:t1', 'reassign:t1', 'openFolder:a1', 'transcript:r1', 'transcript:r1']);
    assert.deepEqual(actions({ status: 'in_progress', assigneeId: 'a1' }, { assignee: ada, running: true, runs: [] }), ['cancel:t1', 'openFolder:a1']);
    assert.deepEqual(actions({ status: 'pending' }, { runs: [] }), ['run:t1', 'cancel:t1', 'reassign:t1']);
  });

  it('a cancelled task says it was cancelled, not that it failed', () => {
    const body = renderTaskBody(details({ status: 'cancelled', failureReason: 'Cancelled by user', result: null }), now);
    assert.match(body, /data-status="cancelled">Cancelled</);
    assert.match(body, /<h2>Why it was cancelled<\/h2>/);
    assert.doesNotMatch(body, /[Ff]ailed: Cancelled/);
  });

  it('a transcript reads as a conversation; code fences inside replies cannot break it', () => {
    const d = details();
    const md = renderTranscript({
      run: d.runs[0], taskTitle: 'Add', events: [],
      messages: [
        { role: 'system', content: 'You are Ada.' },
        { role: 'user', content: '# Task: Add' },
        { role: 'assistant', content: 'Here:\n```js\nx\n```' },
      ],
    });
    assert.match(md, /^# Ada on "Add"/);
    assert.match(md, /## System prompt/);
    assert.match(md, /## Ada \(step 1\)\n\n````text\nHere:\n```js\nx\n```\n````/);
  });
});
