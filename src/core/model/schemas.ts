/**
 * The domain model as zod schemas. Every boundary (database rows, command input, API bodies, model
 * output) parses through these, so a bad value is an error with a message, never a silent corruption.
 */
import * as z from 'zod';

export const Id = z.string().min(1).max(64);

/** Names show in the tree and become folder names: keep them readable and safe on every file system. */
export const AgentName = z
  .string()
  .trim()
  .min(1, 'Give the agent a name.')
  .max(40, 'Keep the name to 40 characters or fewer.')
  .regex(/^[A-Za-z0-9][A-Za-z0-9 _.-]*$/, 'Use letters, digits, spaces, "-", "_" or "." and start with a letter or digit.')
  .refine(s => !/[. ]$/.test(s), 'A name cannot end with "." or a space.');

export const Skill = z
  .string()
  .trim()
  .toLowerCase()
  .min(1)
  .max(32, 'Keep each skill to 32 characters or fewer.')
  .regex(/^[a-z0-9][a-z0-9+#._-]*$/, 'A skill is one word: letters, digits, "+", "#", ".", "_" or "-".');

export const Skills = z.array(Skill).max(32, 'At most 32 skills.').transform(s => [...new Set(s)]);

/** 'vscode': the chat models VS Code offers (`lm.selectChatModels`), served by the editor itself. */
export const ProviderKind = z.enum(['ollama', 'openai', 'vscode']);
export type ProviderKind = z.infer<typeof ProviderKind>;

export const Provider = z.object({
  id: Id,
  kind: ProviderKind,
  name: z.string().trim().min(1).max(60),
  /** http(s) for model servers; `vscode://lm` for VS Code's own models. */
  baseUrl: z.url({ protocol: /^(https?|vscode)$/, error: 'Use an http:// or https:// URL.' }),
  maxConcurrency: z.number().int().min(1).max(64),
  createdAt: z.number().int(),
});
export type Provider = z.infer<typeof Provider>;

export const AgentStatus = z.enum(['ready', 'busy', 'error', 'offline']);
export type AgentStatus = z.infer<typeof AgentStatus>;

export const ToolProtocol = z.enum(['auto', 'native', 'text', 'json']);
export type ToolProtocol = z.infer<typeof ToolProtocol>;

export const AgentSettings = z
  .object({
    temperature: z.number().min(0).max(2).optional(),
    numCtx: z.number().int().min(512).max(1_048_576).optional(),
    maxSteps: z.number().int().min(1).max(500).optional(),
    toolProtocol: ToolProtocol.optional(),
    testCommand: z.string().max(500).optional(),
    /** Run on any configured provider that serves this model (the one with a free slot), not only `providerId`. */
    anyProvider: z.boolean().optional(),
    /** A stronger agent (by name) that retries a task once when this agent's run ends stuck (a loop guard). */
    fallbackAgent: z.string().trim().min(1).max(40).optional(),
    /** Or a stronger model (on its provider, default the agent's own) that this agent retries a stuck task with, once. */
    fallbackModel: z.object({ model: z.string().trim().min(1).max(200), providerId: z.string().min(1).max(64).optional() }).strict().optional(),
  })
  .strict();
export type AgentSettings = z.infer<typeof AgentSettings>;

export const ModelName = z
  .string()
  .trim()
  .min(1, 'Name a model, e.g. gemma3:1b.')
  .max(200)
  .regex(/^[^\s]+$/, 'A model name has no spaces (e.g. deepseek-coder-v2:16b).');

export const Role = z.string().trim().min(1, 'Give the agent a role, e.g. "developer".').max(200);

export const Agent = z.object({
  id: Id,
  name: AgentName,
  role: Role,
  skills: Skills,
  providerId: Id,
  model: ModelName,
  settings: AgentSettings,
  enabled: z.boolean(),
  status: AgentStatus,
  statusReason: z.string().nullable(),
  /** Folder relative to the first workspace folder, with forward slashes. */
  workspace: z.string().min(1),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});
export type Agent = z.infer<typeof Agent>;

export const TaskStatus = z.enum(['pending', 'blocked', 'in_progress', 'in_review', 'completed', 'failed', 'cancelled']);
export type TaskStatus = z.infer<typeof TaskStatus>;

export const Priority = z.number().int().min(0).max(3);
export { PRIORITY_LABELS } from './labels';

export const Attachment = z.string().min(1).max(1000);

export const Task = z.object({
  id: Id,
  title: z.string().trim().min(1, 'Give the task a title.').max(200, 'Keep the title to 200 characters or fewer.'),
  description: z.string().max(20_000, 'Keep the description under 20,000 characters.'),
  requiredSkills: Skills,
  priority: Priority,
  status: TaskStatus,
  assigneeId: Id.nullable(),
  parentId: Id.nullable(),
  reviewOf: Id.nullable(),
  dependsOn: z.array(Id),
  attachments: z.array(Attachment),
  /** Overrides the agent's test command and the detected one for this task. */
  testCommand: z.string().trim().min(1).max(500).nullable(),
  result: z.string().nullable(),
  failureReason: z.string().nullable(),
  attempts: z.number().int().min(0),
  /** null: as the setting ai2ai.review.required says; true/false: this task's own choice. */
  reviewRequired: z.boolean().nullable(),
  /** How many review rounds it has been through (0 before its first review). */
  reviewRound: z.number().int().min(0),
  /** Why this assignee: the scheduler's score reasons, or "assigned by hand". */
  assignReason: z.string().nullable(),
  /** While in progress: the process running it and when its lease runs out unless renewed. */
  leaseOwner: z.string().nullable(),
  leaseExpiresAt: z.number().int().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
  startedAt: z.number().int().nullable(),
  completedAt: z.number().int().nullable(),
});
export type Task = z.infer<typeof Task>;

export const TaskUpdateKind = z.enum(['status', 'plan', 'progress', 'tool', 'test', 'feedback', 'result', 'error']);
export type TaskUpdateKind = z.infer<typeof TaskUpdateKind>;

export const TaskUpdate = z.object({
  id: Id,
  taskId: Id,
  agentId: Id.nullable(),
  kind: TaskUpdateKind,
  body: z.string().max(100_000),
  createdAt: z.number().int(),
});
export type TaskUpdate = z.infer<typeof TaskUpdate>;

export const Message = z.object({
  id: Id,
  taskId: Id.nullable(),
  fromAgent: Id.nullable(),
  toAgent: Id.nullable(),
  body: z.string().min(1).max(20_000),
  createdAt: z.number().int(),
  readAt: z.number().int().nullable(),
});
export type Message = z.infer<typeof Message>;

/** 'interrupted': the window stopped or died mid-run; the task went back to the queue and the next run resumes it. */
export const RunOutcome = z.enum(['running', 'completed', 'failed', 'cancelled', 'error', 'interrupted']);
export type RunOutcome = z.infer<typeof RunOutcome>;

export const Run = z.object({
  id: Id,
  taskId: Id,
  agentId: Id,
  /** The agent's name when the run started: runs stay in a task's history after their agent is deleted. */
  agentName: z.string().nullable(),
  startedAt: z.number().int(),
  endedAt: z.number().int().nullable(),
  outcome: RunOutcome,
  reason: z.string().nullable(),
  steps: z.number().int().min(0),
  promptTokens: z.number().int().min(0),
  completionTokens: z.number().int().min(0),
  modelMs: z.number().min(0),
  testsPassed: z.number().int().min(0),
  testsFailed: z.number().int().min(0),
  transcript: z.string().nullable(),
  providerId: z.string().nullable(),
  model: z.string().nullable(),
  /** How a run that did not complete ended, as a stable code: see RunErrorKind. */
  errorKind: z.string().nullable(),
  resumedFrom: z.string().nullable(),
  cachedTokens: z.number().int().min(0),
  /** A unified diff (file path) of what the run changed in the agent's folder. */
  diff: z.string().nullable(),
});
export type Run = z.infer<typeof Run>;

export const Severity = z.enum(['blocker', 'major', 'minor', 'nit']);

export const Finding = z.object({
  file: z.string().min(1).max(500),
  line: z.number().int().min(1).optional(),
  severity: Severity,
  comment: z.string().min(1).max(4000),
});
export type Finding = z.infer<typeof Finding>;

export const ReviewVerdict = z.enum(['approve', 'request_changes']);
export type ReviewVerdict = z.infer<typeof ReviewVerdict>;

export const Review = z.object({
  id: Id,
  taskId: Id,
  /** The review task the reviewer agent worked on; null for a person's review. */
  reviewTaskId: Id.nullable(),
  round: z.number().int().min(1),
  authorId: Id.nullable(),
  /** null: a person reviewed it. */
  reviewerId: Id.nullable(),
  reviewerName: z.string(),
  verdict: ReviewVerdict,
  summary: z.string(),
  findings: z.array(Finding),
  createdAt: z.number().int(),
});
export type Review = z.infer<typeof Review>;

/** The first zod issue as one sentence, with the field named: what a user sees under an input box. */
export function describeZodError(err: z.ZodError): string {
  const issue = err.issues[0];
  if (!issue) return 'Invalid value.';
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  return `${where}${issue.message}`;
}
