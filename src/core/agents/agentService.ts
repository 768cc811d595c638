/** Agents: create, edit, delete, enable/disable, and their status, all through the store and the change feed. */
import { randomUUID } from 'node:crypto';
import * as z from 'zod';
import { changed } from '../changes';
import { AppError } from '../errors';
import { assertAgentTransition } from '../model/transitions';
import {
  Agent, AgentName, AgentSettings, AgentStatus, ModelName, Provider, Role, Skills,
} from '../model/schemas';
import type { Clock, Logger } from '../ports';
import { AGENT_COLUMNS, agentFromRow, agentToParams, placeholders, providerFromRow } from '../store/rows';
import type { Store, WriteApi } from '../store/types';
import { definedOnly, parseInput } from '../util';
import { normalizeRelative, type AgentWorkspaces } from '../workspace/agentWorkspace';

export const CreateAgentInput = z.object({
  name: AgentName,
  role: Role,
  skills: Skills.default([]),
  providerId: z.string().min(1).default('ollama-local'),
  model: ModelName,
  settings: AgentSettings.default({}),
  /** An existing folder of the workspace to map the agent to, instead of `<agentsRoot>/<name>`. */
  workspace: z.string().min(1).optional(),
});
export type CreateAgentInput = z.input<typeof CreateAgentInput>;

export const EditAgentInput = z.object({
  name: AgentName.optional(),
  role: Role.optional(),
  skills: Skills.optional(),
  providerId: z.string().min(1).optional(),
  model: ModelName.optional(),
  settings: AgentSettings.optional(),
  workspace: z.string().min(1).optional(),
});
export type EditAgentInput = z.input<typeof EditAgentInput>;

export class AgentService {
  constructor(
    private readonly store: Store,
    private readonly workspaces: AgentWorkspaces,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {}

  /** The model providers agents can use (configured in issue-3 work; one local Ollama to start). */
  providers(): Provider[] {
    return this.store.read.all('SELECT * FROM providers ORDER BY created_at, name').map(providerFromRow);
  }

  list(): Agent[] {
    return this.store.read.all(`SELECT ${AGENT_COLUMNS} FROM agents ORDER BY name COLLATE NOCASE`).map(agentFromRow);
  }

  find(id: string): Agent | undefined {
    const row = this.store.read.get(`SELECT ${AGENT_COLUMNS} FROM agents WHERE id = ?`, [id]);
    return row && agentFromRow(row);
  }

  get(id: string): Agent {
    const a = this.find(id);
    if (!a) throw new AppError('not_found', 'That agent no longer exists. It may have been deleted in another window.', { id });
    return a;
  }

  findByName(name: string): Agent | undefined {
    const row = this.store.read.get(`SELECT ${AGENT_COLUMNS} FROM agents WHERE name = ? COLLATE NOCASE`, [name.trim()]);
    return row && agentFromRow(row);
  }

  async create(input: CreateAgentInput): Promise<Agent> {
    const data = parseInput(CreateAgentInput, input);
    this.assertNameFree(data.name);
    this.assertProvider(data.providerId);
    const workspace = data.workspace ?? this.workspaces.defaultFolder(data.name);
    // Folder first: if it cannot be made (no folder open, a file in the way) nothing is stored.
    await this.workspaces.prepare(workspace, data);
    const now = this.clock.now();
    const agent: Agent = {
      id: randomUUID(),
      name: data.name,
      role: data.role,
      skills: data.skills,
      providerId: data.providerId,
      model: data.model,
      settings: data.settings,
      enabled: true,
      status: 'ready',
      statusReason: null,
      workspace: normalizeFolder(workspace),
      createdAt: now,
      updatedAt: now,
    };
    this.store.mutate(tx => {
      // Checked again under the lock: another window may have taken the name meanwhile.
      if (tx.get('SELECT 1 AS x FROM agents WHERE name = ? COLLATE NOCASE', [agent.name])) throw nameTaken(agent.name);
      const params = agentToParams(agent);
      tx.run(`INSERT INTO agents (${AGENT_COLUMNS}) VALUES (${placeholders(params.length)})`, params);
      changed(tx, 'agent', 'created', agent.id);
    });
    this.log.info(`[agents] created "${agent.name}" (${agent.model}) in ${agent.workspace}`);
    return agent;
  }

  async edit(id: string, input: EditAgentInput): Promise<Agent> {
    const patch = parseInput(EditAgentInput, input);
    const current = this.get(id);
    if (patch.name && patch.name.toLowerCase() !== current.name.toLowerCase()) this.assertNameFree(patch.name);
    if (patch.providerId) this.assertProvider(patch.providerId);
    const next: Agent = {
      ...current,
      ...definedOnly(patch),
      workspace: patch.workspace ? normalizeFolder(patch.workspace) : current.workspace,
      updatedAt: this.clock.now(),
    };
    if (patch.workspace && next.workspace !== current.workspace) await this.workspaces.prepare(next.workspace, next);
    this.store.mutate(tx => {
      if (patch.name && tx.get('SELECT 1 AS x FROM agents WHERE name = ? COLLATE NOCASE AND id <> ?', [next.name, id])) {
        throw nameTaken(next.name);
      }
      const r = tx.run(
        `UPDATE agents SET name = ?, role = ?, skills = ?, provider_id = ?, model = ?, settings = ?, workspace = ?, updated_at = ? WHERE id = ?`,
        [next.name, next.role, JSON.stringify(next.skills), next.providerId, next.model, JSON.stringify(next.settings), next.workspace, next.updatedAt, id],
      );
      if (r.changes === 0) throw new AppError('not_found', 'That agent no longer exists.', { id });
      // Choosing the tool protocol again is a request to try it: forget what earlier runs found out.
      if (patch.settings && patch.settings.toolProtocol !== current.settings.toolProtocol) {
        tx.run('DELETE FROM model_tool_support WHERE provider_id = ? AND model = ?', [next.providerId, next.model]);
      }
      changed(tx, 'agent', 'updated', id);
    });
    return next;
  }

  /** Deletes the agent; its folder stays on disk and its tasks become unassigned. */
  delete(id: string): Agent {
    const agent = this.get(id);
    this.store.mutate(tx => {
      const running = tx.get<{ title: string }>(
        `SELECT title FROM tasks WHERE assignee_id = ? AND status IN ('in_progress','in_review') LIMIT 1`,
        [id],
      );
      const status = tx.get<{ status: string }>('SELECT status FROM agents WHERE id = ?', [id]);
      if (status?.status === 'busy' || running) {
        throw new AppError(
          'conflict',
          `Agent "${agent.name}" is working on ${running ? `"${running.title}"` : 'a task'}. Cancel that task first, then delete the agent.`,
        );
      }
      // Its tasks become unassigned: every one of them is announced.
      for (const t of tx.all<{ id: string }>('SELECT id FROM tasks WHERE assignee_id = ?', [id])) changed(tx, 'task', 'updated', t.id);
      tx.run('UPDATE tasks SET assignee_id = NULL, assign_reason = NULL, updated_at = ? WHERE assignee_id = ?', [this.clock.now(), id]);
      tx.run('DELETE FROM agents WHERE id = ?', [id]);
      changed(tx, 'agent', 'deleted', id);
    });
    this.log.info(`[agents] deleted "${agent.name}"; its folder ${agent.workspace} was kept`);
    return agent;
  }

  setEnabled(id: string, enabled: boolean): Agent {
    const agent = this.get(id);
    if (agent.enabled === enabled) return agent;
    if (!enabled && agent.status === 'busy') {
      throw new AppError('conflict', `Agent "${agent.name}" is busy. Cancel its task first, then disable it.`);
    }
    const status: AgentStatus = enabled ? 'ready' : 'offline';
    assertAgentTransition(agent.status, status, agent.name);
    const reason = enabled ? null : 'Disabled';
    this.store.mutate(tx => {
      tx.run('UPDATE agents SET enabled = ?, status = ?, status_reason = ?, updated_at = ? WHERE id = ?', [
        enabled ? 1 : 0, status, reason, this.clock.now(), id,
      ]);
      changed(tx, 'agent', 'updated', id);
    });
    return { ...agent, enabled, status, statusReason: reason };
  }

  /** The one way a status changes: guarded by the agent state machine, checked again under the lock. */
  setStatus(id: string, status: AgentStatus, reason: string | null = null): Agent {
    const agent = this.get(id);
    this.store.mutate(tx => setAgentStatusTx(tx, id, status, reason, this.clock.now()));
    return { ...agent, status, statusReason: reason };
  }

  /** Makes sure the agent's folder and its layout exist (the user may have deleted it); returns its path. */
  async ensureFolder(agent: Agent): Promise<string> {
    await this.workspaces.prepare(agent.workspace, agent);
    return this.folderOf(agent);
  }

  /** Absolute path of the agent's folder. */
  folderOf(agent: Agent): string {
    return this.workspaces.resolve(agent.workspace);
  }

  private assertNameFree(name: string): void {
    if (this.findByName(name)) throw nameTaken(name);
  }

  private assertProvider(id: string): void {
    if (!this.store.read.get('SELECT 1 AS x FROM providers WHERE id = ?', [id])) {
      throw new AppError('validation', `There is no model provider "${id}". Choose one of the configured providers.`);
    }
  }
}

/** Repository function: an agent's status change inside a larger mutation, guarded by the state machine. */
export function setAgentStatusTx(tx: WriteApi, id: string, status: AgentStatus, reason: string | null, now: number): void {
  const row = tx.get<{ status: string; name: string }>('SELECT status, name FROM agents WHERE id = ?', [id]);
  if (!row) throw new AppError('not_found', 'That agent no longer exists. It may have been deleted in another window.', { id });
  assertAgentTransition(AgentStatus.parse(row.status), status, row.name);
  tx.run('UPDATE agents SET status = ?, status_reason = ?, updated_at = ? WHERE id = ?', [status, reason, now, id]);
  changed(tx, 'agent', 'updated', id);
}

function nameTaken(name: string): AppError {
  return new AppError('conflict', `An agent named "${name}" already exists. Choose another name.`);
}

function normalizeFolder(p: string): string {
  return normalizeRelative(p, 'The agent folder');
}
