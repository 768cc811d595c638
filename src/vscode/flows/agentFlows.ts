/** The user-facing flows for agents: multi-step inputs, validated with the core's zod schemas. */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { AppError } from '../../core/errors';
import { AgentName, AgentSettings, ModelName, Role, Skills, describeZodError, type Agent } from '../../core/model/schemas';
import { definedOnly } from '../../core/util';
import { BACK, presetStep, runSteps, textStep, type PresetItem, type Prompter } from '../input';

interface RolePreset extends PresetItem {
  skills?: string[];
}

const ROLES: RolePreset[] = [
  { label: 'Developer', detail: 'Writes code and tests in its folder', value: 'developer', skills: ['javascript', 'typescript', 'testing'] },
  { label: 'Reviewer', detail: "Checks other agents' finished work and sends it back with comments", value: 'reviewer', skills: ['review', 'testing'] },
  { label: 'Tester', detail: 'Writes and runs tests', value: 'tester', skills: ['testing'] },
  { label: 'Writer', detail: 'Writes documentation', value: 'writer', skills: ['docs'] },
  { label: 'Other…', detail: 'Describe the role yourself' },
];

const PROTOCOLS: Array<vscode.QuickPickItem & { label: 'auto' | 'native' | 'text' | 'json' }> = [
  { label: 'auto', detail: "Native tool calls when the model reports the 'tools' capability, else the text protocol" },
  { label: 'text', detail: 'One XML-style action per reply (works with every model; the default for DeepSeek Coder and Gemma)' },
  { label: 'native', detail: "The server's tool calling (only for models that support it)" },
  { label: 'json', detail: 'A JSON object constrained by a schema (for tiny models)' },
];

const MODELS: PresetItem[] = [
  { label: 'deepseek-coder-v2:16b', description: 'DeepSeek Coder V2 16B', detail: 'Strong at code; 8.9 GB, fast on a GPU', value: 'deepseek-coder-v2:16b' },
  { label: 'gemma3:1b', description: 'Gemma 3 1B', detail: 'Tiny and quick; fine for simple tasks, runs on a CPU', value: 'gemma3:1b' },
  { label: 'Other…', detail: 'Type the name of any model your provider serves' },
];

export function validator<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: import('zod').ZodError } }, extra?: (v: T) => string | undefined) {
  return (value: string): string | undefined => {
    const r = schema.safeParse(value);
    if (!r.success) return describeZodError(r.error).replace(/^[^:]*: /, '');
    return extra?.(r.data);
  };
}

export function parseSkills(text: string): string[] {
  return text.split(/[,\s]+/).filter(Boolean);
}

export function skillsValidator(value: string): string | undefined {
  const r = Skills.safeParse(parseSkills(value));
  return r.success ? undefined : describeZodError(r.error);
}

export class AgentFlows {
  constructor(private readonly core: () => Promise<Core>, private readonly prompter: Prompter) {}

  async create(): Promise<Agent | undefined> {
    const core = await this.core();
    core.workspaces.root(); // says "open a folder first" before asking anything
    const title = 'Create Agent';
    const s = { name: '', role: '', skills: '', model: '', folder: '' };
    const ok = await runSteps([
      textStep(
        this.prompter,
        () => ({
          title, prompt: 'Name of the agent', placeholder: 'e.g. Ada', value: s.name,
          validate: validator(AgentName, n => (core.agents.findByName(n) ? `An agent named "${n}" already exists.` : undefined)),
        }),
        v => (s.name = v),
      ),
      presetStep(
        this.prompter,
        ROLES,
        { title, placeholder: 'What does this agent do?' },
        () => ({ title, prompt: 'Describe the role', value: s.role, validate: validator(Role) }),
        (role, preset) => {
          s.role = role;
          if (preset?.skills) s.skills = s.skills || preset.skills.join(', ');
        },
      ),
      textStep(
        this.prompter,
        () => ({ title, prompt: 'Skills, separated by commas (tasks are matched to agents by these)', placeholder: 'e.g. typescript, testing', value: s.skills, validate: skillsValidator }),
        v => (s.skills = v),
      ),
      presetStep(
        this.prompter,
        MODELS,
        { title, placeholder: 'Which model runs this agent? (on Ollama at 127.0.0.1:11434)' },
        () => ({ title, prompt: 'Model name as your provider knows it', placeholder: 'e.g. qwen2.5-coder:7b', value: s.model, validate: validator(ModelName) }),
        model => (s.model = model),
      ),
      async (step, total) => {
        const folder = core.workspaces.defaultFolder(s.name);
        const items: Array<vscode.QuickPickItem & { folder?: string }> = [
          { label: folder, description: 'new folder (recommended)', detail: 'With src/, tests/, docs/ and a README', folder },
          { label: 'Choose an existing folder…', detail: 'Map the agent to a folder of this workspace' },
        ];
        const v = await this.prompter.pick(items, { title, step, totalSteps: total, placeholder: 'Where does the agent work?' });
        if (typeof v !== 'object') return v ?? false;
        if (v.folder) {
          s.folder = v.folder;
          return true;
        }
        const root = vscode.Uri.file(core.workspaces.root());
        const picked = await vscode.window.showOpenDialog({ canSelectFolders: true, canSelectFiles: false, defaultUri: root, openLabel: 'Use This Folder' });
        if (!picked?.[0]) return BACK;
        const rel = vscode.workspace.asRelativePath(picked[0], false);
        if (rel === picked[0].fsPath) throw new AppError('path_escape', 'Choose a folder inside the open workspace.');
        s.folder = rel;
        return true;
      },
    ]);
    if (!ok) return undefined;
    const agent = await core.agents.create({ name: s.name, role: s.role, skills: parseSkills(s.skills), model: s.model, workspace: s.folder });
    void vscode.window
      .showInformationMessage(`Agent "${agent.name}" is ready. It works in ${agent.workspace}/.`, 'Open Folder')
      .then(a => a && vscode.commands.executeCommand('ai2ai.openAgentWorkspace', { kind: 'agent', agent }));
    return agent;
  }

  async edit(id?: string): Promise<Agent | undefined> {
    const core = await this.core();
    const agent = (id ? core.agents.get(id) : undefined) ?? (await this.pickAgent(core, 'Edit Agent'));
    if (!agent) return undefined;
    const title = `Edit Agent: ${agent.name}`;
    const st = agent.settings;
    const fields = [
      { label: 'Name', description: agent.name, key: 'name' as const },
      { label: 'Role', description: agent.role, key: 'role' as const },
      { label: 'Skills', description: agent.skills.join(', ') || 'none', key: 'skills' as const },
      { label: 'Model', description: agent.model, key: 'model' as const },
      { label: 'Folder', description: agent.workspace, key: 'workspace' as const },
      { label: 'Tool protocol', description: st.toolProtocol ?? 'auto', key: 'toolProtocol' as const },
      { label: 'Context window (num_ctx)', description: st.numCtx ? String(st.numCtx) : 'auto (up to 8192)', key: 'numCtx' as const },
      { label: 'Max steps', description: st.maxSteps ? String(st.maxSteps) : 'from settings', key: 'maxSteps' as const },
      { label: 'Temperature', description: st.temperature !== undefined ? String(st.temperature) : "the model's default", key: 'temperature' as const },
      { label: 'Test command', description: st.testCommand ?? 'detected from the folder', key: 'testCommand' as const },
    ];
    const field = await this.prompter.pick(fields, { title, placeholder: 'What do you want to change?' });
    if (typeof field !== 'object') return undefined;
    switch (field.key) {
      case 'toolProtocol': {
        const items = PROTOCOLS.map(p => ({ ...p, picked: p.label === (st.toolProtocol ?? 'auto') }));
        const v = await this.prompter.pick(items, { title, placeholder: 'How the agent calls tools' });
        return typeof v === 'object' ? core.agents.edit(agent.id, { settings: { ...st, toolProtocol: v.label } }) : undefined;
      }
      case 'numCtx':
      case 'maxSteps':
      case 'temperature':
      case 'testCommand': {
        const schema = AgentSettings.shape[field.key];
        const v = await this.prompter.input({
          title, prompt: `${field.label} (leave empty for the default)`, value: st[field.key] !== undefined ? String(st[field.key]) : '',
          validate: text => {
            if (!text.trim()) return undefined;
            const r = schema.safeParse(field.key === 'testCommand' ? text : Number(text));
            return r.success ? undefined : describeZodError(r.error).replace(/^[^:]*: /, '');
          },
        });
        if (typeof v !== 'string') return undefined;
        const next = { ...st, [field.key]: v.trim() ? (field.key === 'testCommand' ? v.trim() : Number(v)) : undefined };
        return core.agents.edit(agent.id, { settings: definedOnly(next) });
      }
    }
    const current = field.key === 'skills' ? agent.skills.join(', ') : String(agent[field.key]);
    const validate = {
      name: validator(AgentName, n => (n.toLowerCase() !== agent.name.toLowerCase() && core.agents.findByName(n) ? `An agent named "${n}" already exists.` : undefined)),
      role: validator(Role),
      skills: skillsValidator,
      model: validator(ModelName),
      workspace: (v: string) => (v.trim() ? undefined : 'Give a folder relative to the workspace.'),
    }[field.key];
    const value = await this.prompter.input({ title, prompt: `New ${field.label.toLowerCase()}`, value: current, validate });
    if (typeof value !== 'string') return undefined;
    return core.agents.edit(agent.id, field.key === 'skills' ? { skills: parseSkills(value) } : { [field.key]: value });
  }

  async delete(id?: string): Promise<boolean> {
    const core = await this.core();
    const agent = (id ? core.agents.get(id) : undefined) ?? (await this.pickAgent(core, 'Delete Agent'));
    if (!agent) return false;
    const yes = await this.prompter.confirm(`Delete agent "${agent.name}"?`, 'Delete', `Its folder ${agent.workspace}/ stays on disk; its tasks become unassigned.`);
    if (!yes) return false;
    core.agents.delete(agent.id);
    return true;
  }

  async setEnabled(id: string | undefined, enabled: boolean): Promise<Agent | undefined> {
    const core = await this.core();
    const agent = (id ? core.agents.get(id) : undefined) ?? (await this.pickAgent(core, enabled ? 'Enable Agent' : 'Disable Agent', a => a.enabled !== enabled));
    return agent && core.agents.setEnabled(agent.id, enabled);
  }

  async openWorkspace(id?: string): Promise<vscode.Uri | undefined> {
    const core = await this.core();
    const agent = (id ? core.agents.get(id) : undefined) ?? (await this.pickAgent(core, 'Open Agent Workspace'));
    if (!agent) return undefined;
    const folder = vscode.Uri.file(await core.agents.ensureFolder(agent)); // recreated if the user deleted it
    await vscode.commands.executeCommand('revealInExplorer', folder);
    const readme = vscode.Uri.joinPath(folder, 'README.md');
    await vscode.window.showTextDocument(readme, { preview: true, preserveFocus: true }).then(undefined, () => undefined);
    return folder;
  }

  async pickAgent(core: Core, title: string, filter: (a: Agent) => boolean = () => true): Promise<Agent | undefined> {
    const agents = core.agents.list().filter(filter);
    if (!agents.length) {
      void vscode.window.showInformationMessage('There is no agent to choose. Create one first.', 'Create Agent').then(a => a && vscode.commands.executeCommand('ai2ai.createAgent'));
      return undefined;
    }
    const items = agents.map(agent => ({ label: agent.name, description: `${agent.role} · ${agent.model}`, detail: agent.skills.join(', '), agent }));
    const v = await this.prompter.pick(items, { title, placeholder: 'Choose an agent' });
    return typeof v === 'object' ? v.agent : undefined;
  }
}
