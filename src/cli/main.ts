/**
 * `ai2ai serve`: the team without an editor. Opens the same core (same database format) on a storage
 * folder and a workspace folder, starts the scheduler and the local API, and runs until Ctrl-C, which stops
 * taking work and waits for running tasks to reach a safe point (they go back to the queue and resume on
 * the next start). Nobody is here to approve a command, so commands off the allowlist are refused with
 * that reason unless `--allow-commands` is given.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parseArgs } from 'node:util';
import { openCore, refuseApprovals, type Core, type CoreSettings } from '../core';
import { errorMessage } from '../core/errors';
import type { Logger } from '../core/ports';
import { loadOrCreateTokenFile, startApiServer, type ApiServer } from '../api';

export const DEFAULT_PORT = 7341;
const DEFAULT_ALLOWLIST = ['npm test', 'npm run test', 'node --test', 'pytest', 'python -m pytest', 'go test', 'cargo test'];

const USAGE = `Usage: ai2ai serve --storage DIR --workspace DIR [options]

Runs the AI2AI team without an editor: the database in --storage (the same format as the
extension's), agents' folders in --workspace, and the local API on 127.0.0.1.

Options:
  --storage DIR       folder of the database (created if missing)
  --workspace DIR     the workspace folder agents work in
  --port N            API port on 127.0.0.1 (default ${DEFAULT_PORT}; 0 picks a free one)
  --auto-run          let agents take pending tasks by themselves
  --allow-commands    let agents run commands that are not on the allowlist
                      (without it, they are refused: no one is here to approve them)
  --allowlist CMD     a command agents may run without asking (repeatable; replaces the default list)
  --lease-seconds N   a running task's lease (default 30)
  --verbose           log debug messages
  -h, --help          this text
`;

const out = (s: string) => process.stdout.write(`${s}\n`);

function stderrLogger(verbose: boolean): Logger {
  const line = (level: string, message: string | Error, args: unknown[]) =>
    process.stderr.write(`${new Date().toISOString()} ${level} ${message instanceof Error ? message.stack ?? message.message : message}${args.length ? ` ${args.map(a => (a instanceof Error ? a.message : String(a))).join(' ')}` : ''}\n`);
  return {
    trace: (m, ...a) => verbose && line('trace', m, a),
    debug: (m, ...a) => verbose && line('debug', m, a),
    info: (m, ...a) => line('info', m, a),
    warn: (m, ...a) => line('warn', m, a),
    error: (m, ...a) => line('error', m, a),
  };
}

/** The wasm beside the bundle (dist/sql-wasm.wasm), else the installed sql.js's. */
function wasmPath(): string {
  const beside = path.join(__dirname, 'sql-wasm.wasm');
  return fs.existsSync(beside) ? beside : require.resolve('sql.js/dist/sql-wasm.wasm');
}

function version(): string {
  for (let dir = __dirname, i = 0; i < 4; i++, dir = path.dirname(dir)) {
    try {
      const pkg = JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'ai2ai' && pkg.version) return pkg.version;
    } catch {
      // keep looking
    }
  }
  return '0.0.0';
}

export interface ServeOptions {
  storage: string;
  workspace: string;
  port: number;
  autoRun: boolean;
  allowCommands: boolean;
  allowlist: string[];
  leaseMs: number;
  verbose: boolean;
}

export function parseServeArgs(argv: string[]): ServeOptions | { help: string } | { error: string } {
  let v;
  try {
    v = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        storage: { type: 'string' },
        workspace: { type: 'string' },
        port: { type: 'string' },
        'auto-run': { type: 'boolean' },
        'allow-commands': { type: 'boolean' },
        allowlist: { type: 'string', multiple: true },
        'lease-seconds': { type: 'string' },
        verbose: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    return { error: errorMessage(e) };
  }
  const { values, positionals } = v;
  if (values.help || positionals.length === 0) return { help: USAGE };
  if (positionals[0] !== 'serve' || positionals.length > 1) return { error: `Unknown command "${positionals.join(' ')}". The command is "serve".` };
  if (!values.storage || !values.workspace) return { error: 'Give both --storage DIR and --workspace DIR.' };
  const port = values.port === undefined ? DEFAULT_PORT : Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) return { error: `--port must be a port number (0-65535), not "${values.port}".` };
  const lease = values['lease-seconds'] === undefined ? 30 : Number(values['lease-seconds']);
  if (!Number.isFinite(lease) || lease < 1) return { error: '--lease-seconds must be a number of seconds ≥ 1.' };
  const workspace = path.resolve(values.workspace);
  if (!fs.existsSync(workspace) || !fs.statSync(workspace).isDirectory()) return { error: `The workspace folder ${workspace} does not exist.` };
  return {
    storage: path.resolve(values.storage),
    workspace,
    port,
    autoRun: !!values['auto-run'],
    allowCommands: !!values['allow-commands'],
    allowlist: values.allowlist ?? DEFAULT_ALLOWLIST,
    leaseMs: lease * 1000,
    verbose: !!values.verbose,
  };
}

export interface Serving {
  core: Core;
  api: ApiServer;
  tokenFile: string;
  /** Stops taking work, waits for running tasks to reach a safe point, closes the API and the database. */
  stop(): Promise<void>;
}

export async function serve(o: ServeOptions, log: Logger): Promise<Serving> {
  const settings: CoreSettings = {
    agentsRoot: 'agents',
    durableWrites: false,
    compactAfterBytes: 4 << 20,
    allowlist: o.allowlist,
    scheduler: { autoRun: o.autoRun, leaseMs: o.leaseMs, maxAttempts: 3 },
  };
  const { token, file, created } = loadOrCreateTokenFile(o.storage);
  const core = await openCore({
    storageDir: o.storage,
    wasmPath: wasmPath(),
    workspaceFolders: { folders: () => [o.workspace] },
    settings: () => settings,
    logger: log,
    approvals: o.allowCommands ? { approve: () => Promise.resolve(true), trusted: () => true } : refuseApprovals,
  });
  let api: ApiServer;
  try {
    api = await startApiServer({ core, token: () => token, port: o.port, log, version: version() });
  } catch (e) {
    await core.close();
    throw e;
  }
  void core.monitor.refreshDue().catch(() => undefined);
  out(`AI2AI API listening on ${api.url}`);
  out(`Token ${created ? 'made and ' : ''}kept in ${file} (readable only by you): send it as "Authorization: Bearer <token>".`);
  out(`Database in ${o.storage}; workspace ${o.workspace}; auto-run ${o.autoRun ? 'on' : 'off'}; commands off the allowlist ${o.allowCommands ? 'ALLOWED' : 'refused'}.`);
  let stopping: Promise<void> | undefined;
  return {
    core,
    api,
    tokenFile: file,
    stop: () =>
      (stopping ??= (async () => {
        // Stop taking work first, so nothing new starts while the runs wind down.
        core.scheduler.dispose();
        const running = core.runs.running().length;
        if (running) out(`Stopping: waiting for ${running} running task${running > 1 ? 's' : ''} to reach a safe point…`);
        await api.close();
        await core.close(30_000);
      })()),
  };
}

export async function main(argv: string[]): Promise<number> {
  const parsed = parseServeArgs(argv);
  if ('help' in parsed) {
    out(parsed.help);
    return 0;
  }
  if ('error' in parsed) {
    process.stderr.write(`ai2ai: ${parsed.error}\n\n${USAGE}`);
    return 2;
  }
  const log = stderrLogger(parsed.verbose);
  let s: Serving;
  try {
    s = await serve(parsed, log);
  } catch (e) {
    process.stderr.write(`ai2ai: ${errorMessage(e)}\n`);
    return 1;
  }
  return new Promise<number>(resolve => {
    let signals = 0;
    const onSignal = (sig: NodeJS.Signals) => {
      if (++signals > 1) {
        out(`${sig} again: exiting now; interrupted tasks resume on the next start.`);
        resolve(130);
        return;
      }
      out(`${sig}: no new work is taken (press Ctrl-C again to exit at once).`);
      s.stop().then(
        () => (out('Stopped.'), resolve(0)),
        e => (process.stderr.write(`ai2ai: ${errorMessage(e)}\n`), resolve(1)),
      );
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
