/**
 * Change sets: an agent's writes to attached files outside its own folder, held back until someone accepts
 * them. The rule lives in core (`core.changeSets`); the API lists, diffs, accepts and rejects through it.
 */
import * as z from 'zod';
import type { Core } from '../core';
import { ApiError } from './errors';

export const ChangeStatus = z.enum(['proposed', 'accepted', 'rejected', 'conflict']);

export const FileChange = z.object({
  id: z.string(),
  taskId: z.string(),
  agentId: z.string().nullable(),
  runId: z.string().nullable(),
  /** Path relative to the workspace folder, with forward slashes. */
  path: z.string(),
  status: ChangeStatus,
  /** The file as the agent read it (null: the file did not exist). */
  before: z.string().nullable(),
  /** What the agent wants it to be (null: delete it). */
  after: z.string().nullable(),
  /** Set when the file changed on disk since the agent read it. */
  conflict: z.string().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type FileChange = z.infer<typeof FileChange>;

export const Decision = z.object({ paths: z.array(z.string().min(1).max(1000)).min(1).max(1000).optional() }).strict();

export interface ChangeSetActions {
  list(taskId: string): FileChange[];
  diff(taskId: string, path: string): Promise<string> | string;
  /** Applies the named files (all proposed ones when `paths` is omitted); a file changed meanwhile is a conflict, never overwritten. */
  accept(taskId: string, paths?: string[]): Promise<FileChange[]> | FileChange[];
  reject(taskId: string, paths?: string[]): FileChange[];
}

export function changeSetActionsOf(core: Core): ChangeSetActions | undefined {
  const cs = (core as unknown as { changeSets?: ChangeSetActions }).changeSets;
  return cs && typeof cs.list === 'function' ? cs : undefined;
}

export function requireChangeSets(c: ChangeSetActions | undefined): ChangeSetActions {
  if (!c) throw new ApiError(501, 'not_implemented', 'Change sets are not available in this version of AI2AI.');
  return c;
}
