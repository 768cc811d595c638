/** The user-facing flows for agents: multi-step inputs, validated with the core's zod schemas. */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { AppError } from '../../core/errors';
import { AgentName, AgentSettings, ModelName, Role, Skills, describeZodError, type Agent, type Provider } from '../../core/model/schemas';
import { definedOnly } from '../../core/util';
import { BACK, presetStep, runSteps, textStep, type PresetItem, type Prompter, type Step } from '../input';
import { modelItem } from './providerFlows';

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

const ADD_PROVIDER = 'Add a model server…';
const OTHER_MODEL = 'Other…';

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
    const s = { name: '', role: '', skills: '', providerId: defaultProvider(core).id, model: '', folder: '' };
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
      this.providerStep(core, title, () => s.providerId, id => {
        if (id !== s.providerId) s.model = '';
        s.providerId = id;
      }),
      this.modelStep(core, title, () => s.providerId, () => s.model, m => (s.model = m)),
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
    const agent = await core.agents.create({ name: s.name, role: s.role, skills: parseSkills(s.skills), providerId: s.providerId, model: s.model, workspace: s.folder });
    void this.announce(core, agent);
    return agent;
  }

  /** Says where the new agent works and on what; offers to pull its model when its server lacks it. */
  private async announce(core: Core, agent: Agent): Promise<void> {
    const provider = core.providers.get(agent.providerId);
    const info = await core.app.pullInfo(provider.id, agent.model, AbortSignal.timeout(5000)).catch(() => undefined);
    const missing = info?.present === false && core.app.canPull(provider.id);
    const open = 'Open Folder';
    const pull = 'Pull Model…';
    const a = await this.prompter.notify(
      'info',
      `Agent "${agent.name}" is ready: ${agent.model} on ${provider.name}, working in ${agent.workspace}/.${missing ? ` ${provider.name} does not have ${agent.model} yet.` : ''}`,
      ...(missing ? [pull, open] : [open]),
    );
    if (a === open) await vscode.commands.executeCommand('ai2ai.openAgentWorkspace', agent.id);
    else if (a === pull) await vscode.commands.executeCommand('ai2ai.pullModel', agent.model, provider.id);
  }

  /** Which model server runs the agent: the configured ones with their state, or a new one. */
  private providerStep(core: Core, title: string, current: () => string, set: (id: string) => void): Step {
    return async (step, totalSteps) => {
      for (;;) {
        const items: Array<vscode.QuickPickItem & { providerId?: string }> = [
          ...core.providers.list().map(p => ({ ...providerItem(core, p), picked: p.id === current() })),
          { label: ADD_PROVIDER, iconPath: new vscode.ThemeIcon('add'), detail: 'Ollama on another machine or port, LM Studio, llama.cpp, vLLM, or any OpenAI-compatible server' },
        ];
        const v = await this.prompter.pick(items, { title, step, totalSteps, placeholder: 'Which model server runs this agent?' });
        if (typeof v !== 'object') return v ?? false;
        if (v.providerId) {
          set(v.providerId);
          return true;
        }
        const added = await vscode.commands.executeCommand<Provider | undefined>('ai2ai.addProvider');
        if (added) {
          set(added.id);
          return true;
        }
      }
    };
  }

  /**
   * Which model: the provider's own list (size, loaded first), or, when it cannot be read, the known models
   * as suggestions with the reason; "Other…" to type any name.
   */
  private modelStep(core: Core, title: string, providerId: () => string, current: () => string, set: (model: string) => void): Step {
    return async (step, totalSteps) => {
      const p = core.providers.get(providerId());
      const list = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Reading the models of ${p.name}…` }, () =>
        core.app.models(p.id, AbortSignal.timeout(8000)),
      );
      const models = list.ok ? [...list.models].sort((a, b) => Number(b.loaded) - Number(a.loaded) || a.name.localeCompare(b.name)) : list.suggestions;
      const items: Array<vscode.QuickPickItem & { model?: string }> = models.map(modelItem);
      const preferred = items.find(i => i.model === current()) ?? items[0];
      if (preferred) preferred.picked = true;
      items.push({ label: OTHER_MODEL, detail: `Type the name of a model${core.app.canPull(p.id) ? ' (you can pull it afterwards)' : ''}` });
      const placeholder = !list.ok
        ? `Could not read the models of ${p.name} (${oneLine(list.reason)}). Suggestions:`
        : models.length
          ? `Which model on ${p.name} runs this agent?`
          : `${p.name} has no models yet: type the name of one to pull`;
      return presetStep(
        this.prompter,
        items.map(i => ({ ...i, value: i.model })),
        { title, placeholder },
        () => ({ title, prompt: `Model name as ${p.name} knows it`, placeholder: 'e.g. qwen2.5-coder:7b', value: current(), validate: validator(ModelName) }),
        model => set(model),
      )(step, totalSteps);
    };
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
      { label: 'Model server', description: core.providers.list().find(p => p.id === agent.providerId)?.name ?? 'missing', key: 'provider' as const },
      { label: 'Model', description: agent.model, key: 'model' as const },
      { label: 'Folder', description: agent.workspace, key: 'workspace' as const },
      { label: 'Tool protocol', description: st.toolProtocol ?? 'auto', key: 'toolProtocol' as const },
      { label: 'Context window (num_ctx)', description: st.numCtx ? String(st.numCtx) : 'auto (up to 8192)', key: 'numCtx' as const },
      { label: 'Max steps', description: st.maxSteps ? String(st.maxSteps) : 'from settings', key: 'maxSteps' as const },
      { label: 'Temperature', description: st.temperature !== undefined ? String(st.temperature) : "the model's default", key: 'temperature' as const },
      { label: 'Test command', description: st.testCommand ?? 'detected from the folder', key: 'testCommand' as const },
      { label: 'Other model servers', description: st.anyProvider ? `any server with ${agent.model}` : 'only its own', key: 'anyProvider' as const },
      { label: 'Fallback when stuck', description: st.fallbackAgent ?? (st.fallbackModel ? `this agent on ${st.fallbackModel.model}` : 'none (a stuck run fails)'), key: 'fallbackAgent' as const },
    ];
    const field = await this.prompter.pick(fields, { title, placeholder: 'What do you want to change?' });
    if (typeof field !== 'object') return undefined;
    switch (field.key) {
      case 'provider':
      case 'model': {
        // A model belongs to a server: a new server asks for its model too.
        const s = { providerId: agent.providerId, model: agent.model };
        const steps = [this.modelStep(core, title, () => s.providerId, () => s.model, m => (s.model = m))];
        if (field.key === 'provider') steps.unshift(this.providerStep(core, title, () => s.providerId, p => (s.providerId = p)));
        if (!(await runSteps(steps))) return undefined;
        return core.agents.edit(agent.id, { providerId: s.providerId, model: s.model });
      }
      case 'toolProtocol': {
        const items = PROTOCOLS.map(p => ({ ...p, picked: p.label === (st.toolProtocol ?? 'auto') }));
        const v = await this.prompter.pick(items, { title, placeholder: 'How the agent calls tools' });
        return typeof v === 'object' ? core.agents.edit(agent.id, { settings: { ...st, toolProtocol: v.label } }) : undefined;
      }
      case 'anyProvider': {
        const items = [
          { label: 'Only its own server', detail: 'Runs wait for a free slot on this agent\'s model server.', any: false, picked: !st.anyProvider },
          { label: `Any server with ${agent.model}`, detail: 'Runs go to whichever configured server that serves the model has a free slot.', any: true, picked: !!st.anyProvider },
        ];
        const v = await this.prompter.pick(items, { title, placeholder: 'Where may its runs go?' });
        return typeof v === 'object' ? core.agents.edit(agent.id, { settings: definedOnly({ ...st, anyProvider: v.any || undefined }) }) : undefined;
      }
      case 'fallbackAgent': {
        const items = [
          { label: 'None', description: 'a stuck run fails', name: undefined as string | undefined, model: false },
          { label: 'A stronger model…', description: 'this agent retries once on another model', name: undefined as string | undefined, model: true },
          ...core.agents.list().filter(a => a.id !== agent.id).map(a => ({ label: a.name, description: `${a.model} · ${a.skills.join(', ') || 'no skills'}`, name: a.name as string | undefined, model: false })),
        ].map(i => ({ ...i, picked: i.model ? !!st.fallbackModel : i.name === st.fallbackAgent && !st.fallbackModel }));
        const v = await this.prompter.pick(items, { title, placeholder: 'Who retries a task once when this agent gets stuck (unusable replies, repeating itself, out of steps)?' });
        if (typeof v !== 'object') return undefined;
        if (!v.model) return core.agents.edit(agent.id, { settings: definedOnly({ ...st, fallbackAgent: v.name, fallbackModel: undefined }) });
        const model = await this.prompter.input({
          title, prompt: `The stronger model on ${core.providers.list().find(p => p.id === agent.providerId)?.name ?? 'its server'}`, value: st.fallbackModel?.model ?? '',
          placeholder: 'e.g. deepseek-coder-v2:16b', validate: validator(ModelName, m => (m === agent.model ? 'That is the model it already uses.' : undefined)),
        });
        if (typeof model !== 'string') return undefined;
        return core.agents.edit(agent.id, { settings: definedOnly({ ...st, fallbackAgent: undefined, fallbackModel: { model: model.trim() } }) });
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
    const items = agents.map(agent => ({ label: agent.name, description: `${agent.role} · ${agent.model}${agent.enabled ? '' : ' · disabled'}`, detail: agent.skills.join(', '), agent }));
    const v = await this.prompter.pick(items, { title, placeholder: 'Choose an agent' });
    return typeof v === 'object' ? v.agent : undefined;
  }
}

/** The provider a new agent starts on: the newest one not known to be offline (the one the user just added). */
function defaultProvider(core: Core): Provider {
  const all = core.providers.list();
  return [...all].reverse().find(p => core.providers.lastHealth(p.id)?.ok !== false) ?? all[0];
}

/** A provider as the pickers show it: its state first, so it is seen in a narrow picker too. */
export function providerItem(core: Core, p: Provider): vscode.QuickPickItem & { providerId: string } {
  const h = core.providers.lastHealth(p.id);
  const state = !h ? 'not checked' : h.ok ? 'online' : 'offline';
  return {
    label: p.name,
    description: `${state} · ${hostOf(p.baseUrl)}`,
    detail: `${p.kind === 'ollama' ? 'Ollama' : 'OpenAI-compatible'}${h && !h.ok ? `: ${oneLine(h.reason)}` : ''}`,
    providerId: p.id,
  };
}

/** `http://127.0.0.1:11434` -> `127.0.0.1:11434` (and a path when there is one). */
export function hostOf(url: string): string {
  return url.replace(/^https?:\/\//, '').replace(/\/+$/, '');
}

function oneLine(s: string): string {
  const flat = s.replace(/\s+/g, ' ').trim();
  return flat.length > 120 ? `${flat.slice(0, 120)}…` : flat;
}
