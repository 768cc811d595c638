/** Task updates (the task's history) and agent-to-agent messages: append and list. */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { changed } from '../changes';
import { AppError } from '../errors';
import { Id, Message, TaskUpdate, TaskUpdateKind } from '../model/schemas';
import type { Clock } from '../ports';
import { messageFromRow, updateFromRow } from '../store/rows';
import type { Store } from '../store/types';
import { parseInput } from '../util';

const AppendUpdate = z.object({
  taskId: Id,
  agentId: Id.nullable().default(null),
  kind: TaskUpdateKind,
  body: TaskUpdate.shape.body,
});

const SendMessage = z.object({
  taskId: Id.nullable().default(null),
  fromAgent: Id.nullable().default(null),
  /** null = every agent. */
  toAgent: Id.nullable().default(null),
  body: Message.shape.body,
});

export class ActivityService {
  constructor(
    private readonly store: Store,
    private readonly clock: Clock,
  ) {}

  appendUpdate(input: z.input<typeof AppendUpdate>): TaskUpdate {
    const d = parseInput(AppendUpdate, input);
    const u: TaskUpdate = { id: randomUUID(), ...d, createdAt: this.clock.now() };
    this.store.mutate(tx => {
      if (!tx.get('SELECT 1 AS x FROM tasks WHERE id = ?', [u.taskId])) {
        throw new AppError('not_found', 'That task no longer exists.', { id: u.taskId });
      }
      tx.run('INSERT INTO task_updates (id, task_id, agent_id, kind, body, created_at) VALUES (?, ?, ?, ?, ?, ?)', [
        u.id, u.taskId, u.agentId, u.kind, u.body, u.createdAt,
      ]);
      changed(tx, 'update', 'created', u.id, { taskId: u.taskId });
    });
    return u;
  }

  updates(taskId: string, limit = 500): TaskUpdate[] {
    return this.store.read
      .all('SELECT * FROM task_updates WHERE task_id = ? ORDER BY created_at ASC, rowid ASC LIMIT ?', [taskId, limit])
      .map(updateFromRow);
  }

  send(input: z.input<typeof SendMessage>): Message {
    const d = parseInput(SendMessage, input);
    const m: Message = { id: randomUUID(), ...d, createdAt: this.clock.now(), readAt: null };
    this.store.mutate(tx => {
      for (const agent of [m.fromAgent, m.toAgent]) {
        if (agent && !tx.get('SELECT 1 AS x FROM agents WHERE id = ?', [agent])) {
          throw new AppError('not_found', 'The agent this message names no longer exists.', { agent });
        }
      }
      tx.run('INSERT INTO messages (id, task_id, from_agent, to_agent, body, created_at, read_at) VALUES (?, ?, ?, ?, ?, ?, NULL)', [
        m.id, m.taskId, m.fromAgent, m.toAgent, m.body, m.createdAt,
      ]);
      changed(tx, 'message', 'created', m.id, { taskId: m.taskId ?? undefined, agentId: m.toAgent ?? undefined });
    });
    return m;
  }

  /** Messages for an agent (addressed to it or broadcast), oldest first. */
  inbox(agentId: string, opts: { unreadOnly?: boolean } = {}): Message[] {
    return this.store.read
      .all(
        `SELECT * FROM messages WHERE (to_agent = ? OR to_agent IS NULL) AND (from_agent IS NULL OR from_agent <> ?)
         ${opts.unreadOnly ? 'AND read_at IS NULL' : ''} ORDER BY created_at ASC, rowid ASC`,
        [agentId, agentId],
      )
      .map(messageFromRow);
  }

  messagesForTask(taskId: string): Message[] {
    return this.store.read.all('SELECT * FROM messages WHERE task_id = ? ORDER BY created_at ASC, rowid ASC', [taskId]).map(messageFromRow);
  }

  markRead(ids: readonly string[]): void {
    if (!ids.length) return;
    const now = this.clock.now();
    this.store.mutate(tx => {
      for (const id of ids) {
        if (tx.run('UPDATE messages SET read_at = ? WHERE id = ? AND read_at IS NULL', [now, id]).changes) changed(tx, 'message', 'updated', id);
      }
    });
  }
}
