/**
 * A reviewer's tools: the two verdicts, and refusals for every tool that would change the author's work.
 * Findings come as a list of objects (native and JSON protocols) or, for small models on the text protocol,
 * as lines like `src/add.js:12 [major] negative numbers are not handled`.
 */
import * as z from 'zod';
import { parseFindingLine } from './findings';
import { defineTool, jsonOrLines, type ToolDefinition } from './types';

export { parseFindingLine, parseFindingLines } from './findings';

const SEVERITIES = ['blocker', 'major', 'minor', 'nit'] as const;

const FindingObject = z.object({
  file: z.string().trim().min(1, 'Name the file the finding is about.').max(500),
  line: z.coerce.number().int().min(1).optional(),
  severity: z.enum(SEVERITIES).catch('major'),
  comment: z.string().trim().min(1, 'Say what is wrong and what to do.').max(4000),
});

const Findings = z.preprocess(
  jsonOrLines(parseFindingLine),
  z.array(FindingObject).min(1, 'Give at least one finding: what is wrong, where, and what to do.').max(50, 'At most 50 findings: keep the important ones.'),
);

export const approve = defineTool({
  name: 'approve',
  description: 'Accept the work: it does what the task asks and its tests pass. Ends your review.',
  input: z.object({ summary: z.string().trim().min(1, 'Say briefly why it is good.').max(4000) }),
  example: { summary: 'add() is correct for negatives and zero; the tests cover them and pass.' },
  async execute(args) {
    return { ok: true, output: 'Approved.', end: { kind: 'complete', result: args.summary, verdict: { verdict: 'approve', summary: args.summary, findings: [] } } };
  },
});

export const requestChanges = defineTool({
  name: 'request_changes',
  description:
    'Send the work back to its author with findings: one per line, "file:line [blocker|major|minor|nit] what is wrong and what to do". Ends your review.',
  input: z.object({
    summary: z.string().trim().max(4000).default(''),
    findings: Findings,
  }),
  example: { summary: 'Close, but negatives are wrong.', findings: 'src/add.js:3 [major] subtracts instead of adding; use a + b\ntests/add.test.js [minor] add a test for negative numbers' },
  async execute(args) {
    const summary = args.summary || `${args.findings.length} finding${args.findings.length > 1 ? 's' : ''}`;
    return {
      ok: true,
      output: 'Changes requested.',
      end: { kind: 'complete', result: summary, verdict: { verdict: 'request_changes', summary, findings: args.findings } },
    };
  },
});

/** Stands in for a tool a reviewer may not use: a refusal the model can act on. */
export function refusedForReviewer(def: ToolDefinition): ToolDefinition {
  return defineTool({
    name: def.name,
    description: `(not available while reviewing) ${def.description}`,
    input: def.input,
    example: (def as { example?: Record<string, string> }).example ?? {},
    async execute() {
      return {
        ok: false,
        output: `You are reviewing this work, so you cannot ${def.name.replace(/_/g, ' ')}: the author makes the changes. ` +
          'Read and test it, then call request_changes with your findings (file, line, what to fix), or approve it.',
      };
    },
  }) as unknown as ToolDefinition;
}
