/**
 * Approve and request changes: the review cycle lives in the application layer (`core.app.approve`,
 * `core.app.requestChanges`, `core.app.reviews`). The API only validates and calls it.
 */
import * as z from 'zod';
import type { Core } from '../core';
import type { Task } from '../core/model/schemas';
import { ApiError } from './errors';

export const Finding = z
  .object({
    file: z.string().max(1000).optional(),
    line: z.number().int().min(1).optional(),
    severity: z.enum(['blocker', 'major', 'minor', 'nit']).optional(),
    message: z.string().trim().min(1).max(4000),
  })
  .strict();

export const ApproveInput = z.object({ summary: z.string().trim().min(1, 'Say why it is approved.').max(4000) }).strict();
export const RequestChangesInput = z
  .object({ findings: z.array(Finding).min(1, 'Name at least one finding.').max(50), summary: z.string().max(4000).optional() })
  .strict();

export type FindingInput = z.infer<typeof Finding>;

/** What the API needs of the review cycle. */
export interface ReviewActions {
  approve(taskId: string, summary: string): Task | Promise<Task>;
  requestChanges(taskId: string, findings: FindingInput[], summary?: string): Task | Promise<Task>;
  /** The task's reviews (verdicts and findings), newest last. */
  reviews?(taskId: string): unknown[];
}

/** The application layer's review actions; the reviewer is named "an API client" in the task's history. */
export function reviewActionsOf(core: Core): ReviewActions {
  const who = 'an API client';
  return {
    approve: (id, summary) => core.app.approve(id, summary, who),
    requestChanges: (id, findings, summary) =>
      core.app.requestChanges(
        id,
        findings.map(f => ({ file: f.file ?? '(general)', line: f.line, severity: f.severity ?? 'major', comment: f.message })),
        summary ?? '',
        who,
      ),
    reviews: id => core.app.reviews(id),
  };
}

export function requireReviews(r: ReviewActions | undefined): ReviewActions {
  if (!r) throw new ApiError(501, 'not_implemented', 'Reviews are not available in this version of AI2AI: approving and requesting changes come with the review cycle.');
  return r;
}
