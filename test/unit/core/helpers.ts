import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { openCore, type Core, type CoreOptions, type CoreSettings } from '../../../src/core';

export const WASM = require.resolve('sql.js/dist/sql-wasm.wasm');

export interface TempCore {
  core: Core;
  root: string;
  storageDir: string;
  workspaceDir: string;
  settings: CoreSettings;
  reopen(): Promise<Core>;
  cleanup(): void;
}

/** A core over real files: a fresh storage folder and a fresh workspace folder. */
export async function tempCore(overrides: Partial<CoreSettings> = {}, options: Partial<CoreOptions> = {}): Promise<TempCore> {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-core-'));
  const storageDir = path.join(root, 'storage');
  const workspaceDir = path.join(root, 'workspace');
  fs.mkdirSync(workspaceDir, { recursive: true });
  const settings: CoreSettings = { agentsRoot: 'agents', durableWrites: false, compactAfterBytes: 4 << 20, ...overrides };
  const open = () =>
    openCore({ storageDir, wasmPath: WASM, workspaceFolders: { folders: () => [workspaceDir] }, settings: () => settings, watch: false, ...options });
  const t: TempCore = {
    core: await open(),
    root,
    storageDir,
    workspaceDir,
    settings,
    async reopen() {
      await t.core.close();
      t.core = await open();
      return t.core;
    },
    cleanup() {
      t.core.dispose();
      fs.rmSync(root, { recursive: true, force: true });
    },
  };
  return t;
}
