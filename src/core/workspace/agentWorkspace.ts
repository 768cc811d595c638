/**
 * Each agent works in its own folder of the open workspace: by default `<agentsRoot>/<agent-name>/`
 * with src/, tests/, docs/ and a README, or any existing folder the user maps it to.
 */
import * as path from 'node:path';
import { AppError } from '../errors';
import type { WorkspaceFolders } from '../ports';
import type { FileSystemPort } from './fs';

export interface AgentWorkspaceSettings {
  /** Relative to the first workspace folder. */
  agentsRoot: string;
}

export const AGENT_SUBFOLDERS = ['src', 'tests', 'docs'] as const;

/** `Ada Lovelace` -> `ada-lovelace`: stable, readable and valid on every file system. */
export function folderNameFor(agentName: string): string {
  const slug = agentName
    .toLowerCase()
    .replace(/[^a-z0-9._-]+/g, '-')
    .replace(/^[-.]+|[-.]+$/g, '');
  return slug || 'agent';
}

export class AgentWorkspaces {
  constructor(
    private readonly fs: FileSystemPort,
    private readonly folders: WorkspaceFolders,
    private readonly settings: () => AgentWorkspaceSettings,
  ) {}

  /** The first workspace folder; agents need one open. */
  root(): string {
    const first = this.folders.folders()[0];
    if (!first) {
      throw new AppError('workspace', 'Open a folder first: each agent works in its own folder inside the open workspace.');
    }
    return first;
  }

  defaultFolder(agentName: string): string {
    const rootSetting = normalizeRelative(this.settings().agentsRoot || 'agents', 'ai2ai.workspace.agentsRoot');
    return path.posix.join(rootSetting, folderNameFor(agentName));
  }

  /** Absolute path of a workspace-relative folder, refusing anything that leaves the workspace. */
  resolve(relative: string): string {
    const rel = normalizeRelative(relative, 'The agent folder');
    return path.join(this.root(), ...rel.split('/'));
  }

  /**
   * Makes sure the folder exists with its layout. For a new folder it creates src/, tests/, docs/ and a
   * README; for an existing folder the user mapped, it adds only what is missing and never overwrites.
   */
  async prepare(relative: string, agent: { name: string; role: string; skills: readonly string[] }): Promise<string> {
    const abs = this.resolve(relative);
    const root = await this.fs.realpath(this.root());
    if (await this.fs.exists(abs)) {
      if (!(await this.fs.isDirectory(abs))) {
        throw new AppError('workspace', `"${relative}" exists and is not a folder. Choose another folder for the agent.`);
      }
      const real = await this.fs.realpath(abs);
      if (real !== root && !real.startsWith(root + path.sep)) {
        throw new AppError('path_escape', `"${relative}" links to a folder outside the workspace. Choose a folder inside it.`);
      }
    }
    await this.fs.mkdir(abs);
    for (const sub of AGENT_SUBFOLDERS) await this.fs.mkdir(path.join(abs, sub));
    await this.fs.writeFileIfMissing(path.join(abs, 'README.md'), readme(agent));
    return abs;
  }
}

/** Accepts `a/b`, `a\\b`, `./a/`; refuses absolute paths, `..`, empty and NUL. Returns `a/b`. */
export function normalizeRelative(input: string, what: string): string {
  const raw = input.trim().replace(/\\/g, '/');
  if (!raw || raw.includes('\0')) throw new AppError('validation', `${what} must be a folder path relative to the workspace.`);
  if (raw.startsWith('/') || /^[a-zA-Z]:/.test(raw) || raw.startsWith('~')) {
    throw new AppError('path_escape', `${what} must be relative to the workspace folder, not "${input}".`);
  }
  const norm = path.posix.normalize(raw).replace(/\/+$/, '');
  if (norm === '..' || norm.startsWith('../')) {
    throw new AppError('path_escape', `${what} "${input}" points outside the workspace. Choose a folder inside it.`);
  }
  if (norm === '.' || norm === '') return '.';
  return norm;
}

function readme(agent: { name: string; role: string; skills: readonly string[] }): string {
  return [
    `# ${agent.name}`,
    '',
    `This folder is the workspace of the AI2AI agent **${agent.name}** (${agent.role}).`,
    agent.skills.length ? `Skills: ${agent.skills.join(', ')}.` : '',
    '',
    '- `src/`: the code it writes',
    '- `tests/`: its tests',
    '- `docs/`: its notes and reports',
    '',
    'The agent writes only inside this folder. Files elsewhere in the workspace change only after you accept them.',
    '',
  ].join('\n');
}
