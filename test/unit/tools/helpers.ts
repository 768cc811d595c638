import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { noSandbox } from '../../../src/core/sandbox';
import { createToolRegistry, runCommand, type ToolContext, type ToolResult } from '../../../src/core/tools';
import type { ToolCall } from '../../../src/core/protocol';
import { PathSandbox } from '../../../src/core/workspace/sandbox';

export interface Fixture {
  ws: string;
  dir: string;
  ctx: ToolContext;
  progress: string[];
  messages: Array<[string, string]>;
  approvals: string[];
  run(name: string, args?: Record<string, unknown>): Promise<ToolResult>;
  cleanup(): void;
}

export function fixture(over: Partial<ToolContext> = {}): Fixture {
  const ws = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-tools-')));
  const dir = path.join(ws, 'agents', 'alice');
  fs.mkdirSync(dir, { recursive: true });
  const progress: string[] = [];
  const messages: Array<[string, string]> = [];
  const approvals: string[] = [];
  const registry = createToolRegistry();
  const ctx: ToolContext = {
    sandbox: new PathSandbox({ workspaceRoots: [ws], writeRoot: dir }),
    cwd: dir,
    signal: new AbortController().signal,
    runCommand,
    approve: async c => {
      approvals.push(c);
      return false;
    },
    trusted: true,
    allowlist: [],
    // The allowlist alone (sandbox "off"); the sandbox tests set up bubblewrap themselves.
    commands: { mode: 'off', sandbox: noSandbox },
    onProgress: t => void progress.push(t),
    sendMessage: (to, body) => {
      if (to === 'nobody') throw new Error('There is no agent named "nobody".');
      messages.push([to, body]);
    },
    ...over,
  };
  return {
    ws,
    dir,
    ctx,
    progress,
    messages,
    approvals,
    run: (name, args = {}) => registry.execute({ name, args } as ToolCall, ctx),
    cleanup: () => fs.rmSync(ws, { recursive: true, force: true }),
  };
}

export function write(dir: string, rel: string, content: string): void {
  fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
  fs.writeFileSync(path.join(dir, rel), content);
}
