/** Working as a team: ask another agent a question, and split a task into subtasks. */
import * as z from 'zod';
import { defineTool, failure, jsonOrLines, SUBTASK_LIMITS } from './types';

export const ask = defineTool({
  name: 'ask',
  description: 'Ask another agent (by name) a question; its model answers once, from its role, skills and current task.',
  input: z.object({
    agent: z.string().trim().min(1, 'Name the agent to ask.').max(40),
    question: z.string().trim().min(1, 'Write the question.').max(4000),
  }),
  example: { agent: 'reviewer', question: 'Should add() accept strings, or only numbers?' },
  async execute(args, ctx) {
    if (!ctx.ask) return failure('Asking other agents is not possible here: decide yourself, or report_progress the open question.');
    const r = await ctx.ask(args.agent, args.question);
    return { ok: true, output: `${args.agent} answers:\n${r.answer}`, data: { usage: { promptTokens: r.promptTokens, completionTokens: r.completionTokens } } };
  },
});

/** Subtasks as text lines "title | skills | description" for the text protocol, or a JSON array. */
const Subtasks = z.preprocess(
  jsonOrLines(l => {
    const [title, skills = '', ...rest] = l.split('|').map(x => x.trim());
    return { title, skills: skills ? skills.split(/[,\s]+/).filter(Boolean) : [], description: rest.join(' | ') };
  }),
  z
    .array(
      z.object({
        title: z.string().trim().min(1, 'Each subtask needs a title.').max(200),
        description: z.string().max(20_000).default(''),
        skills: z.array(z.string().trim().toLowerCase().min(1).max(32)).max(8).default([]),
      }),
    )
    .min(1, 'Give at least one subtask.')
    .max(SUBTASK_LIMITS.maxChildren, `At most ${SUBTASK_LIMITS.maxChildren} subtasks: group the smaller ones.`),
);

export const createSubtasks = defineTool({
  name: 'create_subtasks',
  description:
    'Split your task: queue subtasks for other agents, one per line "title | skills | description". You then wait; when all are completed you continue with their results.',
  input: z.object({ tasks: Subtasks }),
  example: { tasks: 'Write src/parse.js | javascript | parse the CSV header and rows\nWrite tests for parse | testing | cover empty input and quotes' },
  async execute(args, ctx) {
    if (!ctx.createSubtasks) return failure('Subtasks cannot be created here.');
    const ids = await ctx.createSubtasks(args.tasks);
    return {
      ok: true,
      output: `Queued ${ids.length} subtask${ids.length > 1 ? 's' : ''}. Your task waits for them; you continue when they are done.`,
      end: { kind: 'wait', reason: `waiting for ${ids.length} subtask${ids.length > 1 ? 's' : ''}` },
    };
  },
});
