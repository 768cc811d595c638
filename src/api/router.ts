/**
 * The route table: one entry per operation with its path, its zod schemas (path, query, body, response)
 * and its handler. The same table dispatches requests and generates /v1/openapi.json, so the document
 * cannot drift from what the server does. Bodies and queries are parsed with `.strict()` schemas:
 * unknown fields are refused, not ignored.
 */
import * as z from 'zod';
import type { Core } from '../core';
import { describeZodError } from '../core/model/schemas';
import { ApiError } from './errors';
import type { ReviewActions } from './reviews';
import type { ChangeSetActions } from './changeSets';

export type Method = 'GET' | 'POST' | 'PATCH' | 'DELETE';

export interface RouteContext<P, Q, B> {
  core: Core;
  reviews: ReviewActions | undefined;
  changeSets: ChangeSetActions | undefined;
  params: P;
  query: Q;
  body: B;
}

export interface Route<P = any, Q = any, B = any> { // eslint-disable-line @typescript-eslint/no-explicit-any
  method: Method;
  /** OpenAPI style: `/v1/tasks/{id}`. */
  path: string;
  summary: string;
  tag: string;
  params?: z.ZodType<P>;
  query?: z.ZodType<Q>;
  body?: z.ZodType<B>;
  /** Documented, not checked at run time. */
  response: z.ZodType;
  /** 200 unless said. */
  status?: number;
  handler(ctx: RouteContext<P, Q, B>): unknown;
}

/** Declares a route with its handler typed by its own schemas. */
export function route<P = Record<string, never>, Q = Record<string, never>, B = undefined>(r: Route<P, Q, B>): Route {
  return r as Route;
}

export interface CompiledRoute {
  route: Route;
  regex: RegExp;
  names: string[];
}

export function compile(routes: readonly Route[]): CompiledRoute[] {
  return routes.map(r => {
    const names: string[] = [];
    const source = r.path.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{(\w+)\}/g, (_, n: string) => (names.push(n), '([^/]+)'));
    return { route: r, regex: new RegExp(`^${source}$`), names };
  });
}

/** The route for a method and path, or a 404/405 error. */
export function match(table: readonly CompiledRoute[], method: string, pathname: string): { route: Route; params: Record<string, string> } {
  let pathMatched = false;
  for (const c of table) {
    const m = c.regex.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (c.route.method !== method) continue;
    const params: Record<string, string> = {};
    c.names.forEach((n, i) => {
      try {
        params[n] = decodeURIComponent(m[i + 1]!);
      } catch {
        throw new ApiError(400, 'validation', `The path segment for ${n} is not valid.`);
      }
    });
    return { route: c.route, params };
  }
  if (pathMatched) throw new ApiError(405, 'method_not_allowed', `${method} is not allowed on ${pathname}.`);
  throw new ApiError(404, 'not_found', `There is no resource at ${pathname}.`);
}

/** Parses with a schema; the first issue, with its field, becomes a 400. */
export function validate<T>(schema: z.ZodType<T>, value: unknown, where: string): T {
  const r = schema.safeParse(value);
  if (!r.success) {
    const issue = r.error.issues[0];
    const message = issue?.code === 'unrecognized_keys' ? `Unknown field${issue.keys.length > 1 ? 's' : ''} in the ${where}: ${issue.keys.join(', ')}.` : `In the ${where}: ${describeZodError(r.error)}`;
    throw new ApiError(400, 'validation', message);
  }
  return r.data;
}

/** A URL query as a plain object (a repeated key keeps its last value; lists are comma-separated). */
export function queryObject(search: URLSearchParams): Record<string, string> {
  const o: Record<string, string> = {};
  for (const [k, v] of search) o[k] = v;
  return o;
}
