/**
 * Approve and request changes: the review cycle lives in the application layer (`core.app.approve`,
 * `core.app.requestChanges`, and the task's reviews). The API only calls it. Where the running core does
 * not have it yet, the routes and MCP tools answer 501 `not_implemented` instead of deciding anything here.
 */
import * as z from 'zod';
import type { Core } from '../core';
import type { Task } from '../core/model/schemas';
import { ApiError } from './errors';

export const Finding = z
  .object({
    file: z.string().max(1000).optional(),
    line: z.number().int().min(1).optional(),
    message: z.string().trim().min(1).max(5000),
  })
  .strict();

export const ApproveInput = z.object({ summary: z.string().trim().min(1, 'Say why it is approved.').max(20_000) }).strict();
export const RequestChangesInput = z
  .object({ findings: z.array(Finding).min(1, 'Name at least one finding.').max(100), summary: z.string().max(20_000).optional() })
  .strict();

export type FindingInput = z.infer<typeof Finding>;

/** What the API needs of the review cycle. */
export interface ReviewActions {
  approve(taskId: string, summary: string): Task | Promise<Task>;
  requestChanges(taskId: string, findings: FindingInput[]): Task | Promise<Task>;
  /** The task's reviews (verdicts and findings), newest last. */
  reviews?(taskId: string): unknown[];
}

/** The application layer's review actions, when this core has them. */
export function reviewActionsOf(core: Core): ReviewActions | undefined {
  const app = core.app as unknown as Partial<ReviewActions>;
  if (typeof app.approve !== 'function' || typeof app.requestChanges !== 'function') return undefined;
  return {
    approve: (id, summary) => app.approve!.call(core.app, id, summary),
    requestChanges: (id, findings) => app.requestChanges!.call(core.app, id, findings),
    reviews: typeof app.reviews === 'function' ? id => app.reviews!.call(core.app, id) : undefined,
  };
}

export function requireReviews(r: ReviewActions | undefined): ReviewActions {
  if (!r) throw new ApiError(501, 'not_implemented', 'Reviews are not available in this version of AI2AI: approving and requesting changes come with the review cycle.');
  return r;
}
