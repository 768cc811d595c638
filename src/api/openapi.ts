/**
 * /v1/openapi.json, generated from the route table and its zod schemas (never written by hand):
 * request bodies and queries as their input types, responses as their output types; every operation
 * lists the errors it can answer with, all of them `{code, message}`.
 */
import * as z from 'zod';
import { ErrorSchema, ROUTES } from './routes';
import type { Route } from './router';

type Json = Record<string, unknown>;

const ERRORS: Record<string, string> = {
  400: 'Malformed JSON, a wrong type, or an unknown field',
  401: 'No token, or a wrong one',
  403: 'A foreign Host or Origin',
  404: 'No such resource',
  409: 'Not possible in its current state',
  413: 'The body is too large',
  415: 'The body is not JSON',
  501: 'Not available in this version',
};

export function buildOpenApi(version: string, routes: readonly Route[] = ROUTES): Json {
  // Schemas with an id (`.meta({id})`) become components, shared by reference.
  const schemas: Json = {};
  const toSchema = (schema: z.ZodType, io: 'input' | 'output'): Json => {
    const text = JSON.stringify(z.toJSONSchema(schema, { io, target: 'draft-2020-12', unrepresentable: 'any' }));
    const out = JSON.parse(text.replaceAll('"#/$defs/', '"#/components/schemas/')) as Json;
    for (const [k, v] of Object.entries((out.$defs ?? {}) as Json)) schemas[k] ??= v;
    delete out.$defs;
    delete out.$schema;
    return out;
  };
  const paths: Record<string, Json> = {};
  for (const r of routes) {
    const parameters: Json[] = [];
    for (const [where, schema] of [['path', r.params], ['query', r.query]] as const) {
      if (!schema) continue;
      const s = toSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, prop] of Object.entries(s.properties ?? {})) {
        const { description, ...rest } = prop as Json & { description?: string };
        parameters.push({ name, in: where, required: where === 'path' || (s.required ?? []).includes(name), ...(description ? { description } : {}), schema: rest });
      }
    }
    const op: Json = {
      operationId: operationId(r),
      summary: r.summary,
      tags: [r.tag],
      ...(parameters.length ? { parameters } : {}),
      ...(r.body
        ? { requestBody: { required: !r.body.safeParse(undefined).success, content: { 'application/json': { schema: toSchema(r.body, 'input') } } } }
        : {}),
      responses: {
        [String(r.status ?? 200)]: { description: 'OK', content: { 'application/json': { schema: toSchema(r.response, 'output') } } },
        ...Object.fromEntries(
          errorStatuses(r).map(s => [String(s), { description: ERRORS[s], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } }]),
        ),
      },
    };
    (paths[r.path] ??= {})[r.method.toLowerCase()] = op;
  }
  toSchema(ErrorSchema, 'output');
  paths['/v1/events'] = {
    get: {
      operationId: 'events',
      summary: 'WebSocket: every committed change as {type:"change", seq, origin, changes}, in order; ?since=<seq> replays what was missed, then live; {type:"reload"} means re-read everything',
      tags: ['events'],
      parameters: [
        { name: 'since', in: 'query', required: false, schema: { type: 'integer', minimum: 0 } },
        { name: 'taskId', in: 'query', required: false, schema: { type: 'string' } },
        { name: 'agentId', in: 'query', required: false, schema: { type: 'string' } },
      ],
      responses: {
        '101': { description: 'Switching to the WebSocket protocol' },
        '401': { description: ERRORS[401], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
        '403': { description: ERRORS[403], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    },
  };
  paths['/v1/openapi.json'] = {
    get: { operationId: 'openapi', summary: 'This document', tags: ['meta'], responses: { '200': { description: 'OK', content: { 'application/json': { schema: { type: 'object' } } } } } },
  };
  paths['/mcp'] = {
    post: {
      operationId: 'mcp',
      summary: 'Model Context Protocol (Streamable HTTP, JSON-RPC 2.0): tools to list agents, create, read, list and wait for tasks, approve and request changes',
      tags: ['mcp'],
      requestBody: { required: true, content: { 'application/json': { schema: { type: 'object' } } } },
      responses: {
        '200': { description: 'A JSON-RPC response', content: { 'application/json': { schema: { type: 'object' } } } },
        '401': { description: ERRORS[401], content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } } },
      },
    },
  };
  return {
    openapi: '3.1.0',
    info: {
      title: 'AI2AI local API',
      version,
      description: 'The AI2AI team over HTTP on 127.0.0.1: every call goes through the same application layer as the editor. Authenticate with "Authorization: Bearer <token>".',
    },
    servers: [{ url: '/' }],
    security: [{ bearer: [] }],
    paths,
    components: { schemas, securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  };
}

function operationId(r: Route): string {
  const words = r.path
    .replace(/^\/v1\//, '')
    .split('/')
    .map(w => (w.startsWith('{') ? 'by' + cap(w.slice(1, -1)) : w.split('-').map(cap).join('')));
  return r.method.toLowerCase() + words.map(cap).join('');
}

function cap(s: string): string {
  return s.charAt(0).toUpperCase() + s.slice(1);
}

function errorStatuses(r: Route): number[] {
  const s = [401, 403];
  if (r.body || r.query || r.params) s.push(400);
  if (r.params) s.push(404);
  if (r.method !== 'GET') s.push(409);
  if (r.body) s.push(413, 415);
  if (r.tag === 'reviews' || r.tag === 'changes') s.push(501);
  return s.sort();
}
