/**
 * /v1/events: the core's change feed over WebSocket (the `ws` library). Each committed mutation, in this
 * process or another one on the same database, becomes one message with its sequence number:
 *   {type: 'hello', seq}                      on connect: the last sequence number so far
 *   {type: 'change', seq, origin, changes}    one per mutation, in order
 *   {type: 'reload', seq}                     re-read everything (no exact records, or too far behind)
 * `?since=<seq>` first replays what the client missed from the change log, then goes live; a client that
 * was away longer than the log reaches gets a reload. `?taskId=` / `?agentId=` keep only the records about
 * that task (its updates, messages and runs included) or that agent (and the tasks assigned to it).
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import type { Core } from '../core';
import { changesSince, type CoreChange, type EntityChange } from '../core/changes';
import type { Disposable } from '../core/events';
import type { Logger } from '../core/ports';
import { ApiError } from './errors';

export interface EventFilter {
  taskId?: string;
  agentId?: string;
}

interface Client {
  ws: WebSocket;
  filter?: EventFilter;
  alive: boolean;
}

/** A client this far behind (bytes queued) is dropped; it reconnects with `since` and loses nothing. */
const MAX_BUFFERED = 8 * 1024 * 1024;
const PING_MS = 30_000;

export type EventMessage =
  | { type: 'hello'; seq: number }
  | { type: 'change'; seq: number; origin: 'local' | 'external'; changes: readonly EntityChange[] }
  | { type: 'reload'; seq: number };

export class EventHub implements Disposable {
  private readonly wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024, perMessageDeflate: false });
  private readonly clients = new Set<Client>();
  private readonly sub: Disposable;
  private readonly ping: ReturnType<typeof setInterval>;

  constructor(
    private readonly core: Core,
    private readonly log: Logger,
  ) {
    this.sub = core.changes.event(c => this.broadcast(c));
    this.ping = setInterval(() => {
      for (const c of this.clients) {
        if (!c.alive) {
          c.ws.terminate();
          continue;
        }
        c.alive = false;
        c.ws.ping();
      }
    }, PING_MS);
    this.ping.unref();
  }

  get size(): number {
    return this.clients.size;
  }

  /** Takes over an authorized upgrade request for /v1/events. */
  upgrade(req: IncomingMessage, socket: Duplex, head: Buffer, query: URLSearchParams): void {
    const since = query.get('since');
    const sinceSeq = since === null ? undefined : Number(since);
    if (sinceSeq !== undefined && (!Number.isInteger(sinceSeq) || sinceSeq < 0)) throw new ApiError(400, 'validation', 'since must be a sequence number (an integer ≥ 0).');
    for (const k of query.keys()) if (k !== 'since' && k !== 'taskId' && k !== 'agentId') throw new ApiError(400, 'validation', `Unknown query parameter: ${k}.`);
    const filter: EventFilter | undefined = query.get('taskId') || query.get('agentId') ? { taskId: query.get('taskId') ?? undefined, agentId: query.get('agentId') ?? undefined } : undefined;
    this.wss.handleUpgrade(req, socket, head, ws => {
      const client: Client = { ws, filter, alive: true };
      ws.on('pong', () => (client.alive = true));
      ws.on('close', () => this.clients.delete(client));
      ws.on('error', e => this.log.debug(`[api] event client: ${e.message}`));
      ws.on('message', () => undefined); // the stream is one-way; anything sent is ignored
      // Replay and subscribe in one synchronous step: no change can fall between the two.
      const missed = changesSince(this.core.store.read, sinceSeq ?? Number.MAX_SAFE_INTEGER);
      this.send(client, JSON.stringify({ type: 'hello', seq: missed.lastSeq } satisfies EventMessage));
      if (sinceSeq !== undefined) {
        if (!missed.complete) this.send(client, JSON.stringify({ type: 'reload', seq: missed.lastSeq } satisfies EventMessage));
        else for (const c of missed.events) this.deliver(client, c, undefined);
      }
      this.clients.add(client);
    });
  }

  private broadcast(c: CoreChange): void {
    if (!this.clients.size) return;
    if (c.origin !== 'reload' && c.changes.length === 0) return;
    let all: string | undefined; // serialized once for every unfiltered client
    const assignees = new Map<string, string | null>();
    for (const client of this.clients) all = this.deliver(client, c, all, assignees);
  }

  private deliver(client: Client, c: CoreChange, all: string | undefined, assignees = new Map<string, string | null>()): string | undefined {
    if (c.origin === 'reload') {
      this.send(client, JSON.stringify({ type: 'reload', seq: c.seq } satisfies EventMessage));
      return all;
    }
    if (!client.filter) {
      all ??= JSON.stringify({ type: 'change', seq: c.seq, origin: c.origin, changes: c.changes } satisfies EventMessage);
      this.send(client, all);
      return all;
    }
    const changes = c.changes.filter(x => this.matches(x, client.filter!, assignees));
    if (changes.length) this.send(client, JSON.stringify({ type: 'change', seq: c.seq, origin: c.origin, changes } satisfies EventMessage));
    return all;
  }

  private matches(x: EntityChange, f: EventFilter, assignees: Map<string, string | null>): boolean {
    const taskId = x.entity === 'task' ? x.id : x.taskId;
    if (f.taskId && taskId !== f.taskId) return false;
    if (!f.agentId) return true;
    if ((x.entity === 'agent' && x.id === f.agentId) || x.agentId === f.agentId) return true;
    if (!taskId) return false;
    if (!assignees.has(taskId)) assignees.set(taskId, this.core.tasks.find(taskId)?.assigneeId ?? null);
    return assignees.get(taskId) === f.agentId;
  }

  private send(client: Client, text: string): void {
    if (client.ws.readyState !== client.ws.OPEN) return;
    if (client.ws.bufferedAmount > MAX_BUFFERED) {
      client.ws.close(1013, 'Too far behind: reconnect with since=<last seq>.');
      this.clients.delete(client);
      return;
    }
    client.ws.send(text);
  }

  /** Closes every connection (1001: going away); clients reconnect with `since` to another server. */
  dispose(): void {
    clearInterval(this.ping);
    this.sub.dispose();
    for (const c of this.clients) c.ws.close(1001, 'AI2AI is shutting down.');
    for (const c of this.clients) setTimeout(() => c.ws.terminate(), 500).unref();
    this.clients.clear();
    this.wss.close();
  }
}
