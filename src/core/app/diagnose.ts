/**
 * "AI2AI: Diagnose": what a user (or a bug report) needs to know when the team does not work. Per
 * provider: reachable, version, models, the configured models present, the context length the server
 * applied against the num_ctx AI2AI sends, slots. The database: files, journal, last compaction,
 * integrity. Whether commands are sandboxed. The workspace folders. Every problem comes with what to do.
 * Loaded when Diagnose runs (`Core.diagnose`; dist/diagnose.js in the extension). What it reads comes from the
 * core through `DiagnoseDeps` (the sandbox probe and slot count too, so it probes no second time), and it
 * recognises an Ollama client by its `kind`, not with `instanceof`: the client is of the core's own class.
 */
import type { AgentService } from '../agents/agentService';
import type { Provider } from '../model/schemas';
import type { WorkspaceFolders } from '../ports';
import type { OllamaProvider } from '../providers/ollama';
import type { ProviderService } from '../providers/providerService';
import type { SandboxAvailability } from '../sandbox/detect';
import type { Store, StoreDiagnosis } from '../store/types';

/** The num_ctx AI2AI sends when an agent sets none (see the run executor: at most 8,192). */
export const DEFAULT_NUM_CTX = 8192;

export interface ModelCheck {
  model: string;
  /** Agents configured with it. */
  agents: string[];
  present: boolean | null;
  /** num_ctx AI2AI sends for it (the agents' setting, else the default). */
  numCtxSent: number;
  /** What the server reports for it loaded (`/api/ps` context_length), when it is loaded and says. */
  contextApplied: number | null;
  slotsInUse: number;
}

export interface ProviderDiagnosis {
  provider: Pick<Provider, 'id' | 'name' | 'kind' | 'baseUrl' | 'maxConcurrency'>;
  reachable: boolean;
  reason?: string;
  version?: string;
  models: string[];
  loaded: string[];
  configured: ModelCheck[];
}

export interface Diagnosis {
  at: number;
  providers: ProviderDiagnosis[];
  database: StoreDiagnosis | { error: string };
  sandbox: { platform: string; mechanism: string; available: boolean; note: string };
  workspaceFolders: string[];
  /** What to fix, most important first. */
  fixes: string[];
}

export interface DiagnoseDeps {
  store: Store;
  providers: ProviderService;
  agents: AgentService;
  workspaceFolders: WorkspaceFolders;
  now: () => number;
  /** Runs in progress on a provider's model (`slotsInUse`, claims.ts). */
  slotsInUse: (providerId: string, model: string) => number;
  /** Whether an OS sandbox works here (`detectSandbox`, probed once per process). */
  detectSandbox: (o: { network: boolean }) => Promise<SandboxAvailability>;
}

const errText = (e: unknown) => (e instanceof Error ? e.message : String(e));

/** Whether agents' commands run in an OS sandbox here (bubblewrap on Linux, sandbox-exec on macOS), probed for real. */
async function sandboxInfo(detectSandbox: DiagnoseDeps['detectSandbox']): Promise<Diagnosis['sandbox']> {
  const platform = process.platform;
  const mechanism = platform === 'linux' ? 'bwrap' : platform === 'darwin' ? 'sandbox-exec' : 'none';
  const avail = await detectSandbox({ network: false });
  return {
    platform,
    mechanism,
    available: avail.available,
    note: avail.available
      ? `Commands run in ${mechanism}: they write only in the agent's folder and a private temp folder, see no home secrets or AI2AI storage, have no network unless ai2ai.commands.network allows it, and nothing outlives them.`
      : `No OS sandbox works here (${avail.available ? '' : avail.reason}): with ai2ai.commands.sandbox "auto" every command asks you first. ${mechanism === 'bwrap' ? 'Install bubblewrap (sudo apt-get install bubblewrap).' : ''}`.trim(),
  };
}

export async function diagnose(d: DiagnoseDeps, signal: AbortSignal): Promise<Diagnosis> {
  const fixes: string[] = [];
  const agents = d.agents.list();
  const providers = await Promise.all(
    d.providers.list().map(async (p): Promise<ProviderDiagnosis> => {
      const mine = agents.filter(a => a.providerId === p.id);
      const out: ProviderDiagnosis = {
        provider: { id: p.id, name: p.name, kind: p.kind, baseUrl: p.baseUrl, maxConcurrency: p.maxConcurrency },
        reachable: false, models: [], loaded: [], configured: [],
      };
      let loaded: Array<{ name: string; contextLength?: number }> = [];
      let client;
      try {
        client = d.providers.client(p.id);
        const h = await d.providers.check(p.id, signal);
        out.reachable = h.ok;
        if (h.ok) out.version = h.version;
        else out.reason = h.reason;
      } catch (e) {
        out.reason = errText(e);
      }
      if (out.reachable && client) {
        try {
          out.models = (await client.listModels(signal)).map(m => m.name).sort();
        } catch (e) {
          out.reason = `models could not be listed: ${errText(e)}`;
        }
        if (client.kind === 'ollama') {
          try {
            loaded = await (client as OllamaProvider).loadedModels(signal);
            out.loaded = loaded.map(m => m.name);
          } catch {
            // an older server without /api/ps
          }
        }
      }
      const byModel = new Map<string, string[]>();
      for (const a of mine) byModel.set(a.model, [...(byModel.get(a.model) ?? []), a.name]);
      for (const [model, names] of byModel) {
        const sent = Math.max(...mine.filter(a => a.model === model).map(a => a.settings.numCtx ?? DEFAULT_NUM_CTX));
        const l = loaded.find(m => m.name === model || m.name === `${model}:latest`);
        const check: ModelCheck = {
          model, agents: names,
          present: out.reachable ? out.models.some(m => m === model || m === `${model}:latest`) : null,
          numCtxSent: sent, contextApplied: l?.contextLength ?? null,
          slotsInUse: d.slotsInUse(p.id, model),
        };
        out.configured.push(check);
        if (check.present === false) {
          fixes.push(p.kind === 'ollama' ? `Pull ${model} on ${p.name} (AI2AI: Pull Model…, or \`ollama pull ${model}\`): ${names.join(', ')} use it.` : `${p.name} does not serve ${model}: load it there or change the model of ${names.join(', ')}.`);
        }
        if (check.contextApplied !== null && check.contextApplied < sent) {
          fixes.push(`${p.name} runs ${model} with a context of ${check.contextApplied} tokens, but AI2AI sends num_ctx ${sent}: long prompts are cut. Another client may have loaded it with a smaller context; unload it (\`ollama stop ${model}\`) or lower the agents' context setting.`);
        }
      }
      if (!out.reachable && mine.length) fixes.push(`${p.name} (${p.baseUrl}) is not reachable${out.reason ? `: ${out.reason}` : ''}. Start the server or correct its URL (AI2AI: Edit Model Provider…); the tasks of ${mine.map(a => a.name).join(', ')} wait until it is back.`);
      return out;
    }),
  );
  let database: Diagnosis['database'];
  try {
    database = d.store.diagnose();
    if (database.integrity !== 'ok') fixes.unshift(`The database fails its integrity check (${database.integrity}). Close every VS Code window, keep a copy of ${database.snapshotFile}, and report it.`);
  } catch (e) {
    database = { error: errText(e) };
    fixes.unshift(`The database could not be checked: ${errText(e)}`);
  }
  const sandbox = await sandboxInfo(d.detectSandbox);
  const workspaceFolders = [...d.workspaceFolders.folders()];
  if (!workspaceFolders.length) fixes.push('No folder is open: agents need a workspace folder to work in. Open a folder.');
  if (!agents.length) fixes.push('No agents yet: create one (AI2AI: Create Agent…).');
  return { at: d.now(), providers, database, sandbox, workspaceFolders, fixes };
}

const yes = (b: boolean | null) => (b === null ? 'unknown' : b ? 'yes' : '**no**');
const kb = (n: number) => `${(n / 1024).toFixed(1)} KB`;

/** The report as Markdown. */
export function renderDiagnosis(x: Diagnosis): string {
  const out: string[] = [`# AI2AI Diagnose`, '', `Taken ${new Date(x.at).toLocaleString()}.`, ''];
  out.push('## What to fix', '');
  out.push(...(x.fixes.length ? x.fixes.map(f => `- ${f}`) : ['Nothing: every check passed.']), '');
  out.push('## Model providers', '');
  for (const p of x.providers) {
    out.push(`### ${p.provider.name} (${p.provider.kind}, ${p.provider.baseUrl})`, '');
    out.push(`- Reachable: ${p.reachable ? 'yes' : `**no**${p.reason ? `: ${p.reason}` : ''}`}`);
    if (p.version) out.push(`- Version: ${p.version}`);
    out.push(`- Slots: ${p.provider.maxConcurrency} per model`);
    out.push(`- Models: ${p.models.length ? p.models.join(', ') : '–'}`);
    out.push(`- Loaded now: ${p.loaded.length ? p.loaded.join(', ') : '–'}`);
    if (p.configured.length) {
      out.push('', '| configured model | agents | present | num_ctx sent | context applied | slots in use |', '|---|---|---|---|---|---|');
      for (const m of p.configured) {
        out.push(`| ${m.model} | ${m.agents.join(', ')} | ${yes(m.present)} | ${m.numCtxSent} | ${m.contextApplied ?? 'not loaded'}${m.contextApplied !== null && m.contextApplied < m.numCtxSent ? ' (**smaller**)' : ''} | ${m.slotsInUse}/${p.provider.maxConcurrency} |`);
      }
    } else out.push('- No agent uses it.');
    out.push('');
  }
  out.push('## Database', '');
  if ('error' in x.database) out.push(`Could not be checked: ${x.database.error}`);
  else {
    const db = x.database;
    out.push(
      `- Snapshot: ${db.snapshotFile} (${kb(db.snapshotBytes)})`,
      `- Journal: ${db.journalFile} (${kb(db.journalBytes)}, ${db.journalChanges} change(s) since the last compaction)`,
      `- Last compaction: ${db.lastCompactionAt ? new Date(db.lastCompactionAt).toLocaleString() : 'never'}`,
      `- Schema version ${db.schemaVersion}, change #${db.seq}`,
      `- Integrity check (quick_check): ${db.integrity === 'ok' ? 'ok' : `**${db.integrity}**`}`,
    );
  }
  out.push('', '## Commands', '', `- Platform: ${x.sandbox.platform}; sandbox tool: ${x.sandbox.mechanism} (${x.sandbox.available ? 'available' : 'not available'})`, `- ${x.sandbox.note}`);
  out.push('', '## Workspace folders', '', ...(x.workspaceFolders.length ? x.workspaceFolders.map(f => `- ${f}`) : ['- none open']), '');
  return out.join('\n');
}
