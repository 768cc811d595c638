/** The user-facing flows for tasks: create, edit, delete, cancel, retry, assign. */
import * as path from 'node:path';
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { PRIORITY_LABELS, Task, type Agent } from '../../core/model/schemas';
import { rankAgents } from '../../core/scheduling/match';
import { canTransitionTask } from '../../core/model/transitions';
import { BACK, pickStep, runSteps, textStep, type Prompter, type Step } from '../input';
import { ChangeDocuments } from '../changeDocuments';
import type { TaskPanels } from '../taskPanel/panel';
import { parseSkills, skillsValidator, validator } from './agentFlows';

const DEFAULT_PRIORITY = 1;
/** The default is marked and preselected, so Enter takes it. */
const PRIORITIES = PRIORITY_LABELS.map((label, priority) => ({ label, priority, description: priority === DEFAULT_PRIORITY ? 'default' : undefined }));

export class TaskFlows {
  constructor(
    private readonly core: () => Promise<Core>,
    private readonly prompter: Prompter,
    private readonly panels: TaskPanels,
    private readonly changes: ChangeDocuments,
  ) {}

  async create(): Promise<Task | undefined> {
    const core = await this.core();
    const title = 'Create Task';
    const known = [...new Set(core.agents.list().flatMap(a => a.skills))].sort();
    const s = { title: '', description: '', skills: '', priority: DEFAULT_PRIORITY, attachments: [] as string[], assignee: null as string | null };
    const ok = await runSteps([
      textStep(this.prompter, () => ({ title, prompt: 'What should be done? (a short title)', value: s.title, validate: validator(Task.shape.title) }), v => (s.title = v)),
      textStep(
        this.prompter,
        () => ({ title, prompt: 'Details for the agent: what done looks like, files, constraints (optional)', value: s.description, validate: validator(Task.shape.description) }),
        v => (s.description = v),
      ),
      textStep(
        this.prompter,
        () => ({
          title, prompt: known.length ? `Required skills, separated by commas (agents have: ${known.join(', ')})` : 'Required skills, separated by commas (optional)',
          value: s.skills, validate: skillsValidator,
        }),
        v => (s.skills = v),
      ),
      pickStep(this.prompter, () => PRIORITIES.map(p => ({ ...p, picked: p.priority === s.priority })), { title, placeholder: 'Priority' }, v => (s.priority = v.priority)),
      this.attachStep(core, title, () => s.attachments, a => (s.attachments = a)),
      pickStep(
        this.prompter,
        () => [
          { label: 'Leave unassigned', description: 'assign it later', agentId: null as string | null, picked: s.assignee === null },
          // Disabled agents are marked and last: they cannot run it until enabled.
          ...rankAgents(core.agents.list(), { requiredSkills: parseSkills(s.skills) })
            .sort((a, b) => Number(b.agent.enabled) - Number(a.agent.enabled))
            .map(({ agent, match }) => ({ ...agentItem(agent, match), picked: s.assignee === agent.id })),
        ],
        { title, placeholder: 'Who should do it?' },
        v => (s.assignee = v.agentId),
      ),
    ]);
    if (!ok) return undefined;
    return core.tasks.create({
      title: s.title, description: s.description, requiredSkills: parseSkills(s.skills), priority: s.priority, attachments: s.attachments, assigneeId: s.assignee,
    });
  }

  /**
   * Files the agent should read: the active editor's file first, then the other open files of the
   * workspace, and "Choose files…". Stored relative to the workspace folder. Enter with none: no files.
   */
  private attachStep(core: Core, title: string, current: () => string[], set: (files: string[]) => void): Step {
    return async (step, totalSteps) => {
      const root = core.workspaces.root();
      const rel = (u: vscode.Uri) => {
        const r = path.relative(root, u.fsPath);
        return r && !r.startsWith('..') && !path.isAbsolute(r) ? r.split(path.sep).join('/') : u.fsPath;
      };
      const active = vscode.window.activeTextEditor?.document.uri;
      const open = vscode.window.tabGroups.all.flatMap(g => g.tabs).map(t => (t.input instanceof vscode.TabInputText ? t.input.uri : undefined));
      const files = [...new Set([active, ...open].filter((u): u is vscode.Uri => u?.scheme === 'file').map(rel))].filter(f => !path.isAbsolute(f)).slice(0, 20);
      const chosen = current();
      const items: Array<vscode.QuickPickItem & { file?: string; browse?: boolean }> = [
        ...[...new Set([...files, ...chosen])].map(f => ({
          label: path.posix.basename(f), description: f, detail: active && rel(active) === f ? 'the active editor' : undefined, file: f, picked: chosen.includes(f),
        })),
        { label: 'Choose files…', detail: 'Any file of the workspace', browse: true },
      ];
      const v = await this.prompter.pickMany(items, { title, step, totalSteps, placeholder: 'Attach files the agent should read (optional; Enter for none)' });
      if (v === undefined || v === BACK) return v ?? false;
      let picked = v.filter(i => i.file).map(i => i.file!);
      if (v.some(i => i.browse)) {
        const uris = await vscode.window.showOpenDialog({ canSelectMany: true, canSelectFiles: true, canSelectFolders: false, defaultUri: vscode.Uri.file(root), openLabel: 'Attach' });
        picked = [...picked, ...(uris ?? []).map(rel)];
      }
      set([...new Set(picked)]);
      return true;
    };
  }

  async edit(id?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Edit Task'));
    if (!task) return undefined;
    const title = `Edit Task: ${task.title}`;
    const fields = [
      { label: 'Title', description: task.title, key: 'title' as const },
      { label: 'Description', description: task.description.slice(0, 80) || 'none', key: 'description' as const },
      { label: 'Required skills', description: task.requiredSkills.join(', ') || 'none', key: 'skills' as const },
      { label: 'Priority', description: PRIORITY_LABELS[task.priority], key: 'priority' as const },
      { label: 'Depends on', description: `${task.dependsOn.length} task(s)`, key: 'deps' as const },
      { label: 'Test command', description: task.testCommand ?? "the agent's, or detected from its folder", key: 'testCommand' as const },
    ];
    const field = await this.prompter.pick(fields, { title, placeholder: 'What do you want to change?' });
    if (typeof field !== 'object') return undefined;
    switch (field.key) {
      case 'priority': {
        const p = await this.prompter.pick(PRIORITIES.map(i => ({ ...i, picked: i.priority === task.priority })), { title, placeholder: 'Priority' });
        return typeof p === 'object' ? core.tasks.edit(task.id, { priority: p.priority }) : undefined;
      }
      case 'deps': {
        const others = core.tasks.list().filter(t => t.id !== task.id);
        const items = others.map(t => ({ label: t.title, description: t.status.replace('_', ' '), id: t.id, picked: task.dependsOn.includes(t.id) }));
        const picked = await this.prompter.pickMany(items, { title, placeholder: 'It waits until these tasks are completed' });
        return Array.isArray(picked) ? core.tasks.setDependencies(task.id, picked.map(i => i.id)) : undefined;
      }
      case 'testCommand': {
        const v = await this.prompter.input({ title, prompt: 'Command that tests this task\'s work, run in the agent\'s folder (empty: the agent\'s or the detected one)', value: task.testCommand ?? '' });
        return typeof v === 'string' ? core.tasks.edit(task.id, { testCommand: v.trim() || null }) : undefined;
      }
      default: {
        const current = field.key === 'skills' ? task.requiredSkills.join(', ') : task[field.key];
        const validate = field.key === 'skills' ? skillsValidator : validator(Task.shape[field.key]);
        const v = await this.prompter.input({ title, prompt: `New ${field.label.toLowerCase()}`, value: current, validate });
        if (typeof v !== 'string') return undefined;
        return core.tasks.edit(task.id, field.key === 'skills' ? { requiredSkills: parseSkills(v) } : { [field.key]: v });
      }
    }
  }

  /** Opens the task's details: a live view with its runs, timeline, messages and actions. */
  async show(id?: string): Promise<vscode.WebviewPanel | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Show Task Details'));
    if (!task) return undefined;
    return this.panels.show(core, task.id);
  }

  async delete(id?: string): Promise<boolean> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Delete Task'));
    if (!task) return false;
    if (!(await this.prompter.confirm(`Delete task "${task.title}"?`, 'Delete', 'Its history and messages are deleted with it.'))) return false;
    core.tasks.delete(task.id);
    return true;
  }

  async cancel(id?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Cancel Task', t => canTransitionTask(t.status, 'cancelled') && t.status !== 'failed'));
    return task && core.app.cancel(task.id);
  }

  async retry(id?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Retry Task', t => t.status !== 'in_progress' && t.status !== 'in_review' && canTransitionTask(t.status, 'pending')));
    return task && core.app.retry(task.id);
  }

  async assign(id?: string, agentId?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Assign Task', t => t.status !== 'in_progress' && t.status !== 'in_review' && t.status !== 'completed'));
    if (!task) return undefined;
    if (agentId) return core.app.assign(task.id, agentId);
    // Ranked by the scheduler's own score, with its reasons; disabled agents are marked and last.
    const ranked = core.app.rankAgents(task.id).sort((a, b) => Number(b.agent.enabled) - Number(a.agent.enabled));
    const current = task.assigneeId;
    if (!ranked.length) {
      void vscode.window.showInformationMessage('There is no agent to assign it to. Create one first.', 'Create Agent').then(a => a && vscode.commands.executeCommand('ai2ai.createAgent'));
      return undefined;
    }
    const items: Array<vscode.QuickPickItem & { agentId: string | null; reason?: string }> = ranked.map(s => ({
      label: s.agent.name,
      description: `${s.agent.role} · ${s.agent.model} · ${s.agent.enabled ? s.agent.status : 'disabled'}`,
      detail: s.agent.enabled ? s.reasons.join(' · ') : `Disabled: enable it before it can run this. ${s.reasons.join(' · ')}`,
      agentId: s.agent.id,
      reason: s.reasons.join(', '),
      picked: s.agent.id === current,
    }));
    if (task.assigneeId) items.push({ label: 'Unassign', description: '', detail: 'Leave it on the board without an agent', agentId: null });
    const v = await this.prompter.pick(items, { title: `Assign "${task.title}"`, placeholder: 'Best first: skills, past results on them, model loaded, queue' });
    if (typeof v !== 'object') return undefined;
    return core.app.assign(task.id, v.agentId, v.reason ? `chosen by hand: ${v.reason}` : undefined);
  }

  /** A person's approval of a task in review. */
  async approve(id?: string, summary?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Approve', t => t.status === 'in_review'));
    if (!task) return undefined;
    const done = core.app.approve(task.id, summary ?? 'Approved.', 'you');
    void vscode.window.setStatusBarMessage(`$(check) Approved "${task.title}"`, 4000);
    return done;
  }

  /** Sends a task in review back to its author with your comments (one finding per line: file:line what to change). */
  async requestChanges(id?: string, comments?: string): Promise<Task | undefined> {
    const core = await this.core();
    const task = taskOf(core, id) ?? (await this.pickTask(core, 'Request Changes', t => t.status === 'in_review'));
    if (!task) return undefined;
    const text =
      comments ??
      (await this.prompter.input({
        title: `Request Changes: ${task.title}`,
        prompt: 'What should change? One point per line; "file:line what to do" points at a place.',
        placeholder: 'src/add.js:3 handle negative numbers',
        validate: v => (v.trim() ? undefined : 'Say what should change.'),
      }));
    if (typeof text !== 'string') return undefined;
    const back = core.app.requestChanges(task.id, text.replace(/\s*;\s*/g, '\n'), '', 'you');
    void vscode.window.setStatusBarMessage(back.status === 'failed' ? `"${task.title}" failed review (last round)` : `$(comment-discussion) Sent "${task.title}" back to its author`, 4000);
    return back;
  }

  /** Opens what the author's last run changed, one file at a time, in VS Code's diff view. */
  async showChanges(id?: string, file?: string): Promise<boolean> {
    const core = await this.core();
    let task = taskOf(core, id) ?? (await this.pickTask(core, 'Show Changes'));
    if (!task) return false;
    if (task.reviewOf) task = core.tasks.get(task.reviewOf);
    const run = core.executor.list(task.id).filter(r => r.diff).at(-1);
    const diff = run && this.changes.diffOf(run.id);
    if (!run || !diff?.files.length) {
      void vscode.window.showInformationMessage(`No recorded changes for "${task.title}" yet: they are recorded when its agent completes a run.`);
      return false;
    }
    let chosen = file;
    if (!chosen) {
      if (diff.files.length === 1) chosen = diff.files[0].path;
      else {
        const v = await this.prompter.pick(diff.files.map(f => ({ label: f.path, description: f.status })), { title: `Changes in "${task.title}"`, placeholder: `${diff.files.length} files changed` });
        if (typeof v !== 'object') return false;
        chosen = v.label;
      }
    }
    const who = core.agents.find(run.agentId)?.name ?? 'the agent';
    await vscode.commands.executeCommand('vscode.diff', ChangeDocuments.uri(run.id, 'before', chosen), ChangeDocuments.uri(run.id, 'after', chosen), `${chosen} (changed by ${who})`, { preview: false });
    return true;
  }

  private async pickTask(core: Core, title: string, filter: (t: Task) => boolean = () => true): Promise<Task | undefined> {
    const tasks = core.tasks.list().filter(filter);
    if (!tasks.length) {
      void vscode.window.showInformationMessage('There is no task to choose here.');
      return undefined;
    }
    const items = tasks.map(task => ({ label: task.title, description: task.status.replace('_', ' '), task }));
    const v = await this.prompter.pick(items, { title, placeholder: 'Choose a task' });
    return typeof v === 'object' ? v.task : undefined;
  }
}

/** The task an id names, read now: a tree node's copy may be older than the last change (or another window's). */
function taskOf(core: Core, id?: string): Task | undefined {
  return id ? core.tasks.get(id) : undefined;
}

function agentItem(agent: Agent, match: ReturnType<typeof rankAgents>[number]['match']): vscode.QuickPickItem & { agentId: string } {
  const skills = [...match.matched.map(s => `✓ ${s}`), ...match.missing.map(s => `✗ ${s}`)].join('  ');
  return {
    label: agent.name,
    description: `${agent.role} · ${agent.model} · ${agent.enabled ? agent.status : 'disabled'}`,
    detail: skills || `skills: ${agent.skills.join(', ') || 'none'}`,
    agentId: agent.id,
  };
}
