/**
 * The two state machines. Every status change in the product goes through `assertTaskTransition` or
 * `assertAgentTransition`; an illegal change is an error that says what is allowed instead.
 */
import { AppError } from '../errors';
import type { AgentStatus, TaskStatus } from './schemas';

const TASK: Record<TaskStatus, readonly TaskStatus[]> = {
  pending: ['in_progress', 'blocked', 'cancelled'],
  blocked: ['pending', 'cancelled'],
  in_progress: ['completed', 'failed', 'in_review', 'pending', 'blocked', 'cancelled'],
  in_review: ['completed', 'pending', 'failed', 'cancelled'],
  completed: [],
  failed: ['pending', 'cancelled'],
  cancelled: ['pending'],
};

const AGENT: Record<AgentStatus, readonly AgentStatus[]> = {
  ready: ['busy', 'error', 'offline'],
  busy: ['ready', 'error', 'offline'],
  error: ['ready', 'offline'],
  offline: ['ready', 'error'],
};

export const TERMINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'cancelled'];

export function canTransitionTask(from: TaskStatus, to: TaskStatus): boolean {
  return TASK[from].includes(to);
}

export function assertTaskTransition(from: TaskStatus, to: TaskStatus, title?: string): void {
  if (canTransitionTask(from, to)) return;
  const allowed = TASK[from];
  const subject = title ? `Task "${title}"` : 'The task';
  throw new AppError(
    'illegal_transition',
    `${subject} is ${label(from)} and cannot become ${label(to)}. ` +
      (allowed.length ? `From ${label(from)} it can only become ${allowed.map(label).join(', ')}.` : `${label(from)} is final.`),
    { from, to },
  );
}

export function canTransitionAgent(from: AgentStatus, to: AgentStatus): boolean {
  return from === to || AGENT[from].includes(to);
}

export function assertAgentTransition(from: AgentStatus, to: AgentStatus, name?: string): void {
  if (canTransitionAgent(from, to)) return;
  const subject = name ? `Agent "${name}"` : 'The agent';
  throw new AppError(
    'illegal_transition',
    `${subject} is ${from} and cannot become ${to}. From ${from} it can only become ${AGENT[from].join(', ')}.`,
    { from, to },
  );
}

function label(s: TaskStatus): string {
  return s.replace('_', ' ');
}
