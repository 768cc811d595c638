/**
 * What the model sees: a system prompt (role, skills, rules, the tool protocol) and a first user message
 * (the task, its attachments, the agent's folder, reviewer feedback, messages from other agents), all
 * bounded so a big workspace or a long history cannot crowd the task out of the context window.
 */
import type { Agent, Task } from '../model/schemas';
import { renderTextProtocolInstructions, type ToolSpec, type WireProtocol } from '../protocol';

export interface PromptContext {
  agent: Agent;
  task: Task;
  /** The agent's folder as the model should name it, e.g. `agents/ada/`. */
  folderLabel: string;
  /** A listing of the agent's folder, already bounded. */
  tree: string;
  /** `proposed`: outside the agent's folder, so its writes to it become a change set the user reviews. */
  attachments: Array<{ path: string; content: string; proposed?: boolean }>;
  /** Reviewer comments on earlier attempts, newest last. */
  feedback: string[];
  /** Unread messages from other agents, as "from: body". */
  messages: string[];
  testCommand?: string;
}

export const PROMPT_LIMITS = { attachmentChars: 8_000, treeLines: 200, feedbackChars: 4_000, messageChars: 2_000 };

export function systemPrompt(
  ctx: Pick<PromptContext, 'agent' | 'folderLabel' | 'testCommand'> & { reviewing?: boolean },
  tools: readonly ToolSpec[],
  protocol: WireProtocol,
): string {
  const { agent } = ctx;
  const parts = ctx.reviewing ? reviewerRules(ctx) : [
    `You are ${agent.name}, an AI agent working as a ${agent.role} in a team of agents inside VS Code.`,
    agent.skills.length ? `Your skills: ${agent.skills.join(', ')}.` : '',
    '',
    'Rules:',
    `- You work only inside your folder ${ctx.folderLabel} (paths are relative to it). You may read other files of the workspace, but write only in your folder.`,
    '- Work in small steps: one action per reply. After each action you get its result, then decide the next step.',
    '- First make a short plan with report_progress, then write the code and its tests, then run the tests.',
    ctx.testCommand ? `- Tests run with \`${ctx.testCommand}\`. Fix failures before completing.` : '- If you write tests, make them runnable with the folder\'s test command (e.g. a "test" script in package.json).',
    '- When the task is done and the tests pass, call complete with a short summary of what you did. If you cannot do it, call fail with the reason.',
    '- Never invent tool results. Never repeat an action that already succeeded.',
  ];
  if (protocol === 'text') parts.push('', renderTextProtocolInstructions(tools));
  if (protocol === 'json') {
    parts.push('', 'Reply with exactly one JSON object {"tool": "<name>", "args": {...}} and nothing else. Tools:');
    for (const t of tools) parts.push(`- ${t.name}: ${t.description}`);
  }
  return parts.filter(p => p !== undefined).join('\n');
}

function reviewerRules(ctx: Pick<PromptContext, 'agent' | 'folderLabel' | 'testCommand'>): string[] {
  const { agent } = ctx;
  return [
    `You are ${agent.name}, an AI agent working as a ${agent.role} in a team of agents inside VS Code. Now you review another agent's work.`,
    agent.skills.length ? `Your skills: ${agent.skills.join(', ')}.` : '',
    '',
    'Rules:',
    `- The work is in the folder ${ctx.folderLabel} (paths are relative to it). You may read files and run the tests; you may NOT change anything.`,
    '- One action per reply. After each action you get its result, then decide the next step.',
    ctx.testCommand ? `- The tests run with \`${ctx.testCommand}\`.` : '- Run the tests if the folder has any.',
    '- Check that the work does what the task asks, that it is correct, and that its tests pass and test what matters.',
    '- End with exactly one verdict: approve (with a short summary), or request_changes with findings, one per line:',
    '  file:line [blocker|major|minor|nit] what is wrong and what to do. Be specific; do not ask for changes the task does not need.',
    '- Never invent tool results.',
  ];
}

export interface ReviewPromptContext {
  task: Task;
  authorName: string;
  folderLabel: string;
  round: number;
  maxRounds: number;
  result: string;
  files: Array<{ path: string; status: string }>;
  patch: string;
  tests?: string;
  earlier: string[];
}

export const REVIEW_LIMITS = { patchChars: 12_000 };

/** The reviewer's first message: the task, the author's result, the diff of what it changed, the tests. */
export function reviewMessage(ctx: ReviewPromptContext): string {
  const { task } = ctx;
  const out = [`# Review (round ${ctx.round} of ${ctx.maxRounds}): ${task.title}`, '', `${ctx.authorName} did this task in ${ctx.folderLabel}. Review it.`];
  out.push('', '## The task', '', task.title);
  if (task.description.trim()) out.push('', task.description.trim());
  out.push('', `## ${ctx.authorName}'s result`, '', ctx.result || '(none given)');
  if (ctx.files.length) {
    out.push('', `## What ${ctx.authorName} changed (${ctx.files.length} file${ctx.files.length > 1 ? 's' : ''})`, ...ctx.files.slice(0, 100).map(f => `- ${f.status} ${f.path}`));
    const patch = ctx.patch.length > REVIEW_LIMITS.patchChars ? `${ctx.patch.slice(0, REVIEW_LIMITS.patchChars)}\n… (diff cut; read the files for the rest)` : ctx.patch;
    if (patch.trim()) out.push('', '```diff', patch.trimEnd(), '```');
  } else {
    out.push('', '## What changed', '', '(no diff was recorded: read the files)');
  }
  if (ctx.tests) out.push('', '## Test results of the author\'s last run', '', ctx.tests);
  if (ctx.earlier.length) out.push('', '## Earlier review rounds', ...ctx.earlier.map(e => e.slice(0, PROMPT_LIMITS.feedbackChars)));
  out.push('', 'Start now with your first action.');
  return out.join('\n');
}

export function taskMessage(ctx: PromptContext): string {
  const { task } = ctx;
  const out = [`# Task: ${task.title}`];
  if (task.description.trim()) out.push('', task.description.trim());
  if (task.requiredSkills.length) out.push('', `Skills needed: ${task.requiredSkills.join(', ')}.`);
  if (task.attempts > 1) out.push('', `This is attempt ${task.attempts}.${task.failureReason ? ` The last one ended: ${task.failureReason}` : ''}`);
  const lines = ctx.tree.split('\n');
  out.push('', `## Your folder (${ctx.folderLabel})`, lines.length > PROMPT_LIMITS.treeLines ? [...lines.slice(0, PROMPT_LIMITS.treeLines), `… ${lines.length - PROMPT_LIMITS.treeLines} more`].join('\n') : ctx.tree || '(empty)');
  for (const a of ctx.attachments) {
    const body = a.content.length > PROMPT_LIMITS.attachmentChars ? `${a.content.slice(0, PROMPT_LIMITS.attachmentChars)}\n… (cut; read_file shows the rest)` : a.content;
    out.push('', `## Attached file: ${a.path}`, '```', body, '```');
  }
  const proposed = ctx.attachments.filter(a => a.proposed).map(a => a.path);
  if (proposed.length) {
    out.push('', `To change an attached file, write to it by the path shown (${proposed.join(', ')}) with write_file or replace_in_file: it lies outside your folder, so your change is proposed to the user, who accepts or rejects it.`);
  }
  if (ctx.feedback.length) {
    out.push('', '## Reviewer feedback on your earlier attempt (address every point)');
    // (also what an agent that got stuck tried, when the task was escalated to you)
    for (const f of ctx.feedback) out.push(f.slice(0, PROMPT_LIMITS.feedbackChars));
  }
  if (ctx.messages.length) {
    out.push('', '## Messages from other agents');
    for (const m of ctx.messages) out.push(`- ${m.slice(0, PROMPT_LIMITS.messageChars)}`);
  }
  out.push('', 'Start now with your first action.');
  return out.join('\n');
}
