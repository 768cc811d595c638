/**
 * The local API server: REST under /v1, the change feed on /v1/events (WebSocket), MCP on /mcp, all on
 * 127.0.0.1 only, behind one token. Every request passes, in order: the Host check (DNS rebinding), the
 * Origin check (cross-site pages), the token (constant time), then the route's schemas, a bounded body,
 * and the core. Errors are JSON `{code, message}`.
 */
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import * as z from 'zod';
import type { Core } from '../core';
import { errorMessage } from '../core/errors';
import { nullLogger, type Logger } from '../core/ports';
import { changeSetActionsOf, type ChangeSetActions } from './changeSets';
import { ApiError, toHttpError } from './errors';
import { EventHub } from './events';
import { DEFAULT_BODY_LIMIT, parseJson, readBody, sendError, sendJson } from './http';
import { createMcpServer, handleMcp } from './mcp';
import { buildOpenApi } from './openapi';
import { reviewActionsOf, type ReviewActions } from './reviews';
import { compile, match, queryObject, validate } from './router';
import { ROUTES } from './routes';
import { checkHost, checkOrigin, checkToken, LOOPBACK } from './security';

export interface ApiServerOptions {
  core: Core;
  /** The bearer token (read on every request, so a new one takes effect at once). */
  token: () => string;
  /** 0 picks a free port. */
  port: number;
  log?: Logger;
  /** Largest request body, bytes (default 1 MiB). */
  bodyLimit?: number;
  version?: string;
  /** Default: the application layer's review actions, when it has them. */
  reviews?: ReviewActions;
  /** Default: the core's change sets, when it has them. */
  changeSets?: ChangeSetActions;
}

export interface ApiServer {
  readonly port: number;
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  readonly events: EventHub;
  /** Stops accepting, closes every connection and WebSocket, and detaches from the core. */
  close(): Promise<void>;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const { core } = opts;
  const log = opts.log ?? nullLogger;
  const limit = opts.bodyLimit ?? DEFAULT_BODY_LIMIT;
  const version = opts.version ?? '0.0.0';
  const reviews = opts.reviews ?? reviewActionsOf(core);
  const changeSets = opts.changeSets ?? changeSetActionsOf(core);
  const table = compile(ROUTES);
  let openapi: string | undefined;
  const hub = new EventHub(core, log);
  let port = opts.port;

  /** Host, Origin, token: the same gate for REST, MCP and the WebSocket. */
  const gate = (req: http.IncomingMessage) => {
    checkHost(req.headers.host, port);
    checkOrigin(req.headers.origin, port);
    checkToken(req.headers.authorization, opts.token());
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    gate(req);
    const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
    const method = req.method ?? 'GET';
    if (url.pathname === '/mcp') {
      if (method !== 'POST') throw new ApiError(405, 'method_not_allowed', 'MCP over Streamable HTTP takes POST (this server keeps no sessions, so there is no stream to GET).');
      const body = parseJson(req, await readBody(req, limit));
      await handleMcp(req, res, body, () => createMcpServer(core, reviews, version, log));
      return;
    }
    if (url.pathname === '/v1/openapi.json' && method === 'GET') {
      openapi ??= JSON.stringify(buildOpenApi(version));
      res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' }).end(openapi);
      return;
    }
    const { route, params } = match(table, method, url.pathname);
    const p = route.params ? validate(route.params, params, 'path') : params;
    const q = validate(route.query ?? emptyQuery, queryObject(url.searchParams), 'query');
    const raw = await readBody(req, limit);
    let body: unknown;
    if (route.body) body = validate(route.body, parseJson(req, raw), 'body');
    else if (raw.length) throw new ApiError(400, 'validation', `${method} ${route.path} takes no body.`);
    const result = await route.handler({ core, reviews, changeSets, params: p, query: q, body });
    sendJson(res, route.status ?? 200, result);
  };

  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse) => {
    handle(req, res).catch(e => {
      const { status, body } = toHttpError(e);
      if (status >= 500) log.error(`[api] ${req.method} ${req.url}: ${errorMessage(e)}`);
      sendError(res, status, body);
    });
  };
  const server = http.createServer(onRequest);
  // "Expect: 100-continue" (curl sends it for large bodies): refuse before the body is sent when we can.
  server.on('checkContinue', (req: http.IncomingMessage, res: http.ServerResponse) => {
    try {
      gate(req);
      if (Number(req.headers['content-length']) > limit) throw new ApiError(413, 'payload_too_large', `The body is larger than ${limit} bytes.`);
    } catch (e) {
      const { status, body } = toHttpError(e);
      res.setHeader('connection', 'close');
      sendError(res, status, body);
      return;
    }
    res.writeContinue();
    onRequest(req, res);
  });
  server.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    try {
      gate(req);
      const url = new URL(req.url ?? '/', `http://${LOOPBACK}`);
      if (url.pathname !== '/v1/events') throw new ApiError(404, 'not_found', 'WebSocket connections go to /v1/events.');
      hub.upgrade(req, socket, head, url.searchParams);
    } catch (e) {
      const { status, body } = toHttpError(e);
      const text = JSON.stringify(body);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`,
      );
    }
  });
  server.headersTimeout = 10_000;
  server.requestTimeout = 0; // wait_for_task may take minutes; idle sockets are closed by keepAliveTimeout

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, LOOPBACK, () => {
      server.off('error', reject);
      resolve();
    });
  });
  port = (server.address() as AddressInfo).port;
  log.info(`[api] listening on http://${LOOPBACK}:${port}`);

  let closing: Promise<void> | undefined;
  return {
    port,
    url: `http://${LOOPBACK}:${port}`,
    events: hub,
    close: () =>
      (closing ??= new Promise<void>(resolve => {
        hub.dispose();
        server.close(() => resolve());
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), 1000).unref();
      })),
  };
}

/** Routes without query parameters refuse any. */
const emptyQuery = z.object({}).strict();
