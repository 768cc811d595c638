/** Tools that talk to people and other agents, and the two that end a run. */
import * as z from 'zod';
import { defineTool, failure } from './types';

export const reportProgress = defineTool({
  name: 'report_progress',
  description: 'Tell the user briefly what you have done or are about to do. Does not end your turn of work.',
  input: z.object({ message: z.string().trim().min(1, 'Write a short progress note.').max(2000) }),
  example: { message: 'Wrote src/add.js; next I will add tests.' },
  async execute(args, ctx) {
    ctx.onProgress(args.message);
    return { ok: true, output: 'Progress noted. Continue with the next action.' };
  },
});

export const sendMessage = defineTool({
  name: 'send_message',
  description: 'Send a message to another agent by name (for questions or hand-offs).',
  input: z.object({
    to: z.string().trim().min(1, 'Name the agent to write to.').max(40),
    body: z.string().trim().min(1, 'Write the message.').max(20_000),
  }),
  example: { to: 'reviewer', body: 'The add() function is ready in src/add.js; please check the edge cases.' },
  async execute(args, ctx) {
    try {
      await ctx.sendMessage(args.to, args.body);
    } catch (e) {
      return failure(`The message could not be sent: ${(e as Error).message}`);
    }
    return { ok: true, output: `Message sent to ${args.to}.` };
  },
});

export const complete = defineTool({
  name: 'complete',
  description: 'Finish the task: say what you did and where. Your tests are run first when a test command exists.',
  input: z.object({ result: z.string().trim().min(1, 'Say what you did.').max(20_000) }),
  example: { result: 'Added add(a, b) in src/add.js with tests in tests/add.test.js; all tests pass.' },
  async execute(args) {
    return { ok: true, output: 'Task marked complete.', end: { kind: 'complete', result: args.result } };
  },
});

export const fail = defineTool({
  name: 'fail',
  description: 'Give up on the task when it cannot be done; say why and what would be needed.',
  input: z.object({ reason: z.string().trim().min(1, 'Say why.').max(20_000) }),
  example: { reason: 'The task needs network access to download the dataset, which I do not have.' },
  async execute(args) {
    return { ok: true, output: 'Task marked failed.', end: { kind: 'fail', reason: args.reason } };
  },
});
