/**
 * Change sets: an agent's writes to files attached to its task that lie outside its own folder are
 * collected here, not applied. Each proposal keeps the file as the agent read it (`before`) and what it
 * wants (`after`, null to delete). Someone accepts or rejects them, per file or all: accepting applies the
 * change only if the file is still what the agent read; otherwise it is a conflict, said plainly, and the
 * file is left alone. The editor applies accepted changes itself (an undoable edit) and records them with
 * `markApplied`; the API and the headless server apply them on disk with `accept`.
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as z from 'zod';
import { changed } from '../changes';
import { AppError } from '../errors';
import { loadPart } from '../lazy';
import type { Clock, Logger, WorkspaceFolders } from '../ports';
import type { Row, Store, WriteApi } from '../store/types';

export const FileChangeStatus = z.enum(['proposed', 'accepted', 'rejected', 'conflict']);
export type FileChangeStatus = z.infer<typeof FileChangeStatus>;

export interface FileChange {
  id: string;
  taskId: string;
  agentId: string | null;
  runId: string | null;
  /** Relative to the (first) workspace folder, with forward slashes. */
  path: string;
  /** The file as the agent read it; null when it did not exist. */
  before: string | null;
  /** What the agent wants it to be; null to delete it. */
  after: string | null;
  status: FileChangeStatus;
  /** Why it could not be applied. */
  conflict: string | null;
  createdAt: number;
  updatedAt: number;
}

/** The largest file a change set holds (both versions are kept in the database). */
export const MAX_CHANGE_BYTES = 2 * 1024 * 1024;

function fromRow(r: Row): FileChange {
  return {
    id: String(r.id), taskId: String(r.task_id), agentId: r.agent_id === null ? null : String(r.agent_id), runId: r.run_id === null ? null : String(r.run_id),
    path: String(r.path), before: r.before === null ? null : String(r.before), after: r.after === null ? null : String(r.after),
    status: FileChangeStatus.parse(r.status), conflict: r.conflict === null ? null : String(r.conflict), createdAt: Number(r.created_at), updatedAt: Number(r.updated_at),
  };
}

/** `a/b.js` for any spelling of a workspace-relative path (backslashes, `./`). */
export function normalizeAttachment(p: string): string {
  return path.posix.normalize(p.replace(/\\/g, '/')).replace(/^\.\//, '');
}

export class ChangeSetService {
  constructor(
    private readonly store: Store,
    private readonly folders: WorkspaceFolders,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  list(taskId: string): FileChange[] {
    return this.store.read.all('SELECT * FROM file_changes WHERE task_id = ? ORDER BY path', [taskId]).map(fromRow);
  }

  /** How many proposals wait for a decision, per task (the trees and the CodeLens ask often). */
  pendingCounts(): Map<string, number> {
    const m = new Map<string, number>();
    for (const r of this.store.read.all<{ task_id: string; n: number }>(`SELECT task_id, COUNT(*) AS n FROM file_changes WHERE status IN ('proposed', 'conflict') GROUP BY task_id`)) {
      m.set(String(r.task_id), Number(r.n));
    }
    return m;
  }

  /** Proposals for one file that wait for a decision, whatever their task's state. */
  pendingFor(p: string): FileChange[] {
    return this.store.read
      .all(`SELECT * FROM file_changes WHERE path = ? AND status IN ('proposed', 'conflict') ORDER BY created_at`, [normalizeAttachment(p)])
      .map(fromRow);
  }

  get(taskId: string, p: string): FileChange {
    const row = this.store.read.get('SELECT * FROM file_changes WHERE task_id = ? AND path = ?', [taskId, normalizeAttachment(p)]);
    if (!row) throw new AppError('not_found', `The task proposes no change to ${p}.`, { taskId, path: p });
    return fromRow(row);
  }

  /** The file's absolute path (in the first workspace folder). */
  absolute(p: string): string {
    const root = this.folders.folders()[0];
    if (!root) throw new AppError('workspace', 'Open a folder first: change sets apply to files of the workspace.');
    const rel = normalizeAttachment(p);
    if (rel.startsWith('../') || path.isAbsolute(rel)) throw new AppError('path_escape', `${p} is not inside the workspace.`);
    return path.join(root, rel);
  }

  /** Records (or replaces) the agent's proposal for one file; the first `before` of a pending proposal is kept. */
  propose(input: { taskId: string; agentId: string | null; runId: string | null; path: string; before: string | null; after: string | null }): FileChange {
    const rel = normalizeAttachment(input.path);
    if (input.after !== null && Buffer.byteLength(input.after) > MAX_CHANGE_BYTES) throw new AppError('validation', `The new content of ${rel} is larger than ${MAX_CHANGE_BYTES} bytes.`);
    const now = this.clock.now();
    return this.store.mutate(tx => {
      const row = tx.get('SELECT * FROM file_changes WHERE task_id = ? AND path = ?', [input.taskId, rel]);
      const current = row && fromRow(row);
      if (current && (current.status === 'proposed' || current.status === 'conflict')) {
        tx.run(`UPDATE file_changes SET after = ?, agent_id = ?, run_id = ?, status = 'proposed', conflict = NULL, updated_at = ? WHERE id = ?`, [input.after, input.agentId, input.runId, now, current.id]);
        changed(tx, 'change', 'updated', current.id, { taskId: input.taskId });
        return { ...current, after: input.after, agentId: input.agentId, runId: input.runId, status: 'proposed' as const, conflict: null, updatedAt: now };
      }
      if (current) tx.run('DELETE FROM file_changes WHERE id = ?', [current.id]);
      const c: FileChange = { id: randomUUID(), taskId: input.taskId, agentId: input.agentId, runId: input.runId, path: rel, before: input.before, after: input.after, status: 'proposed', conflict: null, createdAt: now, updatedAt: now };
      tx.run('INSERT INTO file_changes (id, task_id, agent_id, run_id, path, before, after, status, conflict, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, ?, ?)', [
        c.id, c.taskId, c.agentId, c.runId, c.path, c.before, c.after, c.status, c.createdAt, c.updatedAt,
      ]);
      changed(tx, 'change', 'created', c.id, { taskId: c.taskId });
      return c;
    });
  }

  /** A unified diff of one proposal (from the file as the agent read it). */
  async diff(taskId: string, p: string): Promise<string> {
    const c = this.get(taskId, p);
    const { proposalPatch } = await loadPart('the change diff', () => import('./patch'));
    return proposalPatch(c.path, c.before, c.after);
  }

  /**
   * Whether the file is still what the agent read (`current`: its content now, null when missing). When it
   * is not, the answer says so: applying would overwrite someone's edits.
   */
  check(c: FileChange, current: string | null): string | undefined {
    if (current === c.before) return undefined;
    const what = c.before === null ? 'was created' : current === null ? 'was deleted' : 'changed';
    return `${c.path} ${what} since the agent read it; applying its change would overwrite that. Reject it, or retry the task so the agent works on the file as it is now.`;
  }

  /** Applies proposals on disk (all pending ones when `paths` is omitted); a file changed meanwhile becomes a conflict. */
  accept(taskId: string, paths?: readonly string[]): FileChange[] {
    const out: FileChange[] = [];
    for (const c of this.pending(taskId, paths)) {
      const abs = this.absolute(c.path);
      const conflict = this.check(c, readOrNull(abs));
      if (conflict) {
        out.push(this.markConflict(taskId, c.path, conflict));
        continue;
      }
      if (c.after === null) fs.rmSync(abs, { force: true });
      else {
        fs.mkdirSync(path.dirname(abs), { recursive: true });
        fs.writeFileSync(abs, c.after);
      }
      this.log.info(`[changes] applied ${c.path} for task ${taskId}`);
      out.push(this.markApplied(taskId, c.path));
    }
    return out;
  }

  reject(taskId: string, paths?: readonly string[]): FileChange[] {
    return this.pending(taskId, paths).map(c => this.setStatus(c, 'rejected', null));
  }

  /** The editor applied it (as an undoable edit): record it. */
  markApplied(taskId: string, p: string): FileChange {
    return this.setStatus(this.get(taskId, p), 'accepted', null);
  }

  markConflict(taskId: string, p: string, message: string): FileChange {
    return this.setStatus(this.get(taskId, p), 'conflict', message);
  }

  private pending(taskId: string, paths?: readonly string[]): FileChange[] {
    const all = this.list(taskId);
    if (!paths) return all.filter(c => c.status === 'proposed' || c.status === 'conflict');
    return paths.map(p => {
      const c = all.find(x => x.path === normalizeAttachment(p));
      if (!c) throw new AppError('not_found', `The task proposes no change to ${p}.`);
      if (c.status === 'accepted' || c.status === 'rejected') throw new AppError('conflict', `The change to ${c.path} was already ${c.status}.`);
      return c;
    });
  }

  private setStatus(c: FileChange, status: FileChangeStatus, conflict: string | null): FileChange {
    const now = this.clock.now();
    this.store.mutate(tx => setStatusTx(tx, c, status, conflict, now));
    return { ...c, status, conflict, updatedAt: now };
  }
}

function setStatusTx(tx: WriteApi, c: FileChange, status: FileChangeStatus, conflict: string | null, now: number): void {
  tx.run('UPDATE file_changes SET status = ?, conflict = ?, updated_at = ? WHERE id = ?', [status, conflict, now, c.id]);
  changed(tx, 'change', 'updated', c.id, { taskId: c.taskId });
}

export function readOrNull(abs: string): string | null {
  try {
    return fs.readFileSync(abs, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}
