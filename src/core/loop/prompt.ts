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

export function systemPrompt(ctx: Pick<PromptContext, 'agent' | 'folderLabel' | 'testCommand'>, tools: readonly ToolSpec[], protocol: WireProtocol): string {
  const { agent } = ctx;
  const parts = [
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
    for (const f of ctx.feedback) out.push(f.slice(0, PROMPT_LIMITS.feedbackChars));
  }
  if (ctx.messages.length) {
    out.push('', '## Messages from other agents');
    for (const m of ctx.messages) out.push(`- ${m.slice(0, PROMPT_LIMITS.messageChars)}`);
  }
  out.push('', 'Start now with your first action.');
  return out.join('\n');
}
