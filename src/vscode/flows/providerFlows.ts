/** Model providers: add, edit, remove, test the connection, list and pull models. */
import * as vscode from 'vscode';
import type { Core } from '../../core';
import { AppError } from '../../core/errors';
import { Provider } from '../../core/model/schemas';
import type { ModelChoice } from '../../core/app/application';
import type { PullProgress } from '../../core/providers';
import { formatBytes } from '../../core/util';
import { VSCODE_LM_URL } from '../../core/providers/providerService';
import { pickStep, runSteps, textStep, type Prompter } from '../input';
import { validator } from './agentFlows';

const KINDS = [
  { label: 'Ollama', detail: 'Ollama\'s own API (recommended for Ollama): streaming, num_ctx, model pulls', serverKind: 'ollama' as const, url: 'http://127.0.0.1:11434' },
  { label: 'OpenAI-compatible server', detail: 'LM Studio, llama.cpp server, vLLM, or any /v1/chat/completions server', serverKind: 'openai' as const, url: 'http://127.0.0.1:1234/v1' },
  { label: "VS Code's language models", detail: 'GitHub Copilot\'s models, or any chat model another extension provides (VS Code asks your permission once)', serverKind: 'vscode' as const, url: VSCODE_LM_URL },
];

const CONCURRENCY = (v: string) => (/^\d+$/.test(v) && +v >= 1 && +v <= 64 ? undefined : 'A whole number from 1 to 64 (Ollama serves OLLAMA_NUM_PARALLEL requests at once; default 1).');

export class ProviderFlows {
  constructor(private readonly core: () => Promise<Core>, private readonly prompter: Prompter) {}

  async add(): Promise<Provider | undefined> {
    const core = await this.core();
    const title = 'Add Model Provider';
    const s = { kind: KINDS[0], name: '', url: '', concurrency: '1', key: '' };
    const ok = await runSteps([
      pickStep(this.prompter, () => KINDS, { title, placeholder: 'What kind of server?' }, v => {
        s.url = s.kind === v && s.url ? s.url : v.url;
        s.kind = v;
      }),
      textStep(this.prompter, () => ({ title, prompt: 'A name for it', value: s.name || s.kind.label, validate: validator(Provider.shape.name) }), v => (s.name = v)),
      // VS Code's models have no address to ask for.
      (step, total) => (s.kind.serverKind === 'vscode' ? Promise.resolve(true) : textStep(this.prompter, () => ({ title, prompt: 'Base URL', value: s.url, validate: validator(Provider.shape.baseUrl) }), v => (s.url = v))(step, total)),
      textStep(this.prompter, () => ({ title, prompt: 'How many requests may it serve at once?', value: s.concurrency, validate: CONCURRENCY }), v => (s.concurrency = v)),
    ]);
    if (!ok) return undefined;
    const p = core.providers.create({ kind: s.kind.serverKind, name: s.name, baseUrl: s.url, maxConcurrency: Number(s.concurrency) });
    if (p.kind === 'openai') await this.setApiKey(p.id);
    void this.test(p.id);
    return p;
  }

  async edit(id?: string): Promise<Provider | undefined> {
    const core = await this.core();
    const p = (id ? core.providers.get(id) : undefined) ?? (await this.pick(core, 'Edit Model Provider'));
    if (!p) return undefined;
    const fields = [
      { label: 'Name', description: p.name, key: 'name' as const },
      { label: 'Base URL', description: p.baseUrl, key: 'baseUrl' as const },
      { label: 'Concurrency', description: String(p.maxConcurrency), key: 'maxConcurrency' as const },
      ...(p.kind === 'openai' ? [{ label: 'API key', description: 'kept in VS Code\'s secret storage', key: 'apiKey' as const }] : []),
    ];
    const f = await this.prompter.pick(fields, { title: `Edit ${p.name}`, placeholder: 'What do you want to change?' });
    if (typeof f !== 'object') return undefined;
    if (f.key === 'apiKey') {
      await this.setApiKey(p.id);
      return p;
    }
    const validate = f.key === 'maxConcurrency' ? CONCURRENCY : validator(Provider.shape[f.key]);
    const v = await this.prompter.input({ title: `Edit ${p.name}`, prompt: f.label, value: String(p[f.key]), validate });
    if (typeof v !== 'string') return undefined;
    const next = core.providers.edit(p.id, { [f.key]: f.key === 'maxConcurrency' ? Number(v) : v });
    if (f.key === 'baseUrl') void this.test(next.id);
    return next;
  }

  async remove(id?: string): Promise<boolean> {
    const core = await this.core();
    const p = (id ? core.providers.get(id) : undefined) ?? (await this.pick(core, 'Remove Model Provider'));
    if (!p) return false;
    if (!(await this.prompter.confirm(`Remove ${p.name}?`, 'Remove', 'Agents using it must be moved to another provider first.'))) return false;
    core.providers.delete(p.id);
    return true;
  }

  async setApiKey(id?: string): Promise<void> {
    const core = await this.core();
    const p = (id ? core.providers.get(id) : undefined) ?? (await this.pick(core, 'Set API Key'));
    if (!p) return;
    const key = await this.prompter.input({
      title: `API key for ${p.name}`,
      prompt: 'Leave empty for none. Kept in VS Code\'s secret storage, never in settings or the database.',
      password: true,
    });
    if (typeof key !== 'string') return;
    await core.providers.setApiKey(p.id, key || undefined);
    // A refused server may answer now: check it, so its state and its agents' follow.
    void core.app.checkProvider(p.id).catch(() => undefined);
  }

  /** Checks the connection, with progress; the Providers view shows the result. */
  async test(id?: string): Promise<boolean> {
    const core = await this.core();
    const p = (id ? core.providers.get(id) : undefined) ?? (await this.pick(core, 'Test Connection'));
    if (!p) return false;
    const h = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Checking ${p.name}…` }, () => core.app.checkProvider(p.id));
    if (h.ok) void vscode.window.setStatusBarMessage(`$(pass) ${p.name} is reachable${h.version ? ` (version ${h.version})` : ''}`, 5000);
    else void vscode.window.showWarningMessage(`${p.name} is not reachable: ${h.reason}`);
    return h.ok;
  }

  async listModels(id?: string): Promise<string | undefined> {
    const core = await this.core();
    const p = (id ? core.providers.get(id) : undefined) ?? (await this.pick(core, 'List Models'));
    if (!p) return undefined;
    const list = await core.app.models(p.id, AbortSignal.timeout(30_000));
    if (!list.ok) throw new AppError('validation', `Could not list the models of ${p.name}: ${list.reason}`);
    const items = list.models.map(modelItem);
    if (!items.length) {
      void vscode.window.showInformationMessage(`${p.name} has no models yet.${p.kind === 'ollama' ? ' Pull one with "AI2AI: Pull Model".' : ''}`);
      return undefined;
    }
    const v = await this.prompter.pick(items, { title: `Models on ${p.name}`, placeholder: `${items.length} model(s)` });
    return typeof v === 'object' ? v.label : undefined;
  }

  /**
   * Pulls an Ollama model with a cancellable progress bar. Always asks first, naming the model, the server
   * and the download size ("several GB" when AI2AI does not know the model), whoever asked for the pull.
   */
  async pull(model?: string, providerId?: string): Promise<boolean> {
    const core = await this.core();
    const p = providerId ? core.providers.get(providerId) : await this.pick(core, 'Pull Model', q => core.app.canPull(q.id));
    if (!p) return false;
    if (!core.app.canPull(p.id)) throw new AppError('validation', `${p.name} is not an Ollama server; pull models with its own tools.`);
    const name = model ?? (await this.prompter.input({ title: `Pull Model to ${p.name}`, prompt: 'Model name', placeholder: 'e.g. gemma3:1b or deepseek-coder-v2:16b', validate: v => (/^\S+$/.test(v.trim()) ? undefined : 'A model name, e.g. gemma3:1b') }));
    if (typeof name !== 'string') return false;
    const info = await core.app.pullInfo(p.id, name, AbortSignal.timeout(10_000));
    const size = info.sizeBytes ? formatBytes(info.sizeBytes) : 'several GB';
    const yes = `Download ${name} (${size})`;
    const ok = await this.prompter.confirm(
      `Pull ${name} to ${p.name}?`,
      yes,
      info.present ? `${p.name} has it already; pulling again fetches any newer version.` : `This downloads about ${size} to ${p.baseUrl}. You can cancel it while it runs.`,
    );
    if (!ok) return false;
    return vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Pulling ${name} (${size})`, cancellable: true }, async (progress, token) => {
      const ac = new AbortController();
      token.onCancellationRequested(() => ac.abort());
      let last = 0;
      await core.app.pull(p.id, name, (e: PullProgress) => {
        const pct = e.percent ?? last;
        progress.report({ message: e.status, increment: Math.max(0, pct - last) });
        last = Math.max(last, pct);
      }, ac.signal);
      void vscode.window.setStatusBarMessage(`$(pass) Pulled ${name}`, 5000);
      return true;
    });
  }

  private async pick(core: Core, title: string, filter: (p: Provider) => boolean = () => true): Promise<Provider | undefined> {
    const list = core.providers.list().filter(filter);
    if (list.length === 1) return list[0];
    const v = await this.prompter.pick(list.map(provider => ({ label: provider.name, description: provider.baseUrl, provider })), { title, placeholder: 'Which provider?' });
    return typeof v === 'object' ? v.provider : undefined;
  }
}

/** A model as the pickers show it: name; size, parameters and "loaded"; what it is, for a suggestion. */
export function modelItem(m: ModelChoice): vscode.QuickPickItem & { model: string } {
  const facts = [m.sizeBytes ? formatBytes(m.sizeBytes) : undefined, m.parameterSize, m.quantization, m.loaded ? 'loaded' : undefined].filter(Boolean);
  return { label: m.name, description: facts.join(' · '), detail: m.detail, model: m.name };
}
