/**
 * The headless entry (`ai2ai serve`) in a child process on temp folders, and plain HTTP and WebSocket
 * clients for it: what a script on the same machine would use.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import WebSocket from 'ws';
import type { EventMessage } from '../../../src/api';

const BIN = path.resolve(__dirname, '../../../src/cli/bin.js');

export interface Headless {
  child: ChildProcess;
  url: string;
  port: number;
  token: string;
  tokenFile: string;
  storage: string;
  workspace: string;
  stdout: string[];
  stderr(): string;
  exited: Promise<number | null>;
  /** Ctrl-C, then waits for the exit code. */
  stop(): Promise<number | null>;
  cleanup(): void;
}

export async function startHeadless(args: string[] = [], dirs?: { storage: string; workspace: string }): Promise<Headless> {
  const root = dirs ? undefined : fs.mkdtempSync(path.join(os.tmpdir(), 'ai2ai-api-'));
  const storage = dirs?.storage ?? path.join(root!, 'storage');
  const workspace = dirs?.workspace ?? path.join(root!, 'workspace');
  fs.mkdirSync(workspace, { recursive: true });
  const child = spawn(process.execPath, [BIN, 'serve', '--storage', storage, '--workspace', workspace, '--port', '0', '--lease-seconds', '5', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const stdout: string[] = [];
  let err = '';
  let buf = '';
  child.stderr!.on('data', d => (err += String(d)));
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start: ${err}`)), 20_000);
    child.stdout!.on('data', d => {
      buf += String(d);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        stdout.push(line);
        const m = /listening on (http:\/\/\S+)/.exec(line);
        if (m) {
          clearTimeout(timer);
          resolve(m[1]!);
        }
      }
    });
    void exited.then(code => reject(new Error(`the server exited ${code}: ${err}`)));
  });
  await until('the token line', () => stdout.some(l => l.startsWith('Token')));
  const tokenFile = /kept in (\S+) /.exec(stdout.find(l => l.startsWith('Token'))!)![1]!;
  return {
    child, url, port: Number(new URL(url).port), token: fs.readFileSync(tokenFile, 'utf8').trim(), tokenFile, storage, workspace, stdout,
    stderr: () => err, exited,
    async stop() {
      if (child.exitCode === null) child.kill('SIGINT');
      return exited;
    },
    cleanup() {
      if (child.exitCode === null) child.kill('SIGKILL');
      if (root) fs.rmSync(root, { recursive: true, force: true });
    },
  };
}

export interface Reply<T = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  status: number;
  body: T;
  headers: http.IncomingHttpHeaders;
}

/** One HTTP request with full control of the headers (Host included) and the raw body. */
export function call<T = any>( // eslint-disable-line @typescript-eslint/no-explicit-any
  h: { url: string; token: string },
  method: string,
  p: string,
  opts: { body?: unknown; raw?: string | Buffer; headers?: Record<string, string>; token?: string | null } = {},
): Promise<Reply<T>> {
  const u = new URL(p, h.url);
  const raw = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = {};
  if (raw !== undefined) {
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(Buffer.byteLength(raw));
  }
  const token = opts.token === undefined ? h.token : opts.token;
  if (token !== null) headers.authorization = `Bearer ${token}`;
  Object.assign(headers, opts.headers);
  return new Promise((resolve, reject) => {
    const req = http.request({ host: u.hostname, port: u.port, path: u.pathname + u.search, method, headers, agent: false }, res => {
      const chunks: Buffer[] = [];
      res.on('data', c => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: unknown = text;
        try {
          body = text ? JSON.parse(text) : undefined;
        } catch {
          // not JSON: keep the text
        }
        resolve({ status: res.statusCode ?? 0, body: body as T, headers: res.headers });
      });
    });
    req.on('error', reject);
    if (raw !== undefined) req.write(raw);
    req.end();
  });
}

/** A WebSocket on /v1/events that records every message. */
export class EventClient {
  readonly messages: EventMessage[] = [];
  readonly ws: WebSocket;
  readonly opened: Promise<void>;
  readonly closed: Promise<number>;

  constructor(h: { url: string; token: string }, query = '', opts: { token?: string | null; origin?: string; host?: string } = {}) {
    const headers: Record<string, string> = {};
    const token = opts.token === undefined ? h.token : opts.token;
    if (token !== null) headers.authorization = `Bearer ${token}`;
    if (opts.host) headers.host = opts.host;
    this.ws = new WebSocket(`${h.url.replace(/^http/, 'ws')}/v1/events${query}`, { headers, origin: opts.origin });
    this.ws.on('message', d => this.messages.push(JSON.parse(String(d)) as EventMessage));
    this.opened = new Promise((resolve, reject) => {
      this.ws.once('open', () => resolve());
      this.ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
      this.ws.once('error', reject);
    });
    this.closed = new Promise(resolve => this.ws.once('close', code => resolve(code)));
  }

  changes(): Array<Extract<EventMessage, { type: 'change' }>> {
    return this.messages.filter((m): m is Extract<EventMessage, { type: 'change' }> => m.type === 'change');
  }

  hello(): number {
    const h = this.messages.find(m => m.type === 'hello');
    if (!h) throw new Error('no hello yet');
    return h.seq;
  }

  close(): Promise<number> {
    this.ws.close();
    return this.closed;
  }
}

export async function until(what: string, pred: () => boolean | Promise<boolean>, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await pred())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise(r => setTimeout(r, 20));
  }
}
