/**
 * Who may talk to the API: a process on this machine that holds the token, through a name that means
 * this machine. The token is compared in constant time; the Host header must name loopback with our port
 * (a page on a rebinding name such as attacker.example resolving to 127.0.0.1 sends its own name); a
 * browser's Origin, when there is one, must be this server itself (no cross-site page may use it, nor
 * open the WebSocket, even though browsers do not apply CORS to WebSockets).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ApiError } from './errors';

export const LOOPBACK = '127.0.0.1';

/** A new random token: 32 bytes, base64url. */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

/** Equal-time comparison (hashing first makes the lengths equal, so the length does not leak either). */
export function tokenMatches(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/** The bearer token of a request, from `Authorization: Bearer <token>`. */
export function bearer(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

export function checkToken(header: string | undefined, expected: string): void {
  const given = bearer(header);
  if (!given) throw new ApiError(401, 'unauthorized', 'Send the API token as "Authorization: Bearer <token>".');
  if (!tokenMatches(given, expected)) throw new ApiError(401, 'unauthorized', 'The API token is wrong.');
}

/** Host names that mean this machine; anything else reached us through DNS rebinding or a proxy. */
function allowedHosts(port: number): Set<string> {
  return new Set([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`]);
}

export function checkHost(host: string | undefined, port: number): void {
  if (!host || !allowedHosts(port).has(host.toLowerCase())) {
    throw new ApiError(403, 'forbidden_host', `Requests must be addressed to 127.0.0.1:${port} or localhost:${port}.`);
  }
}

/** No Origin (curl, Node, another tool) passes; a browser page's Origin must be this server's own. */
export function checkOrigin(origin: string | undefined, port: number): void {
  if (origin === undefined) return;
  let host: string;
  try {
    const u = new URL(origin);
    if (u.protocol !== 'http:') throw new Error('not http');
    host = u.host;
  } catch {
    throw new ApiError(403, 'forbidden_origin', 'Requests from web pages are not allowed.');
  }
  if (!allowedHosts(port).has(host.toLowerCase())) throw new ApiError(403, 'forbidden_origin', 'Requests from web pages are not allowed.');
}

/**
 * The headless server's token: read from `<dir>/api-token`, or made and written there readable only by
 * the user (0600). A file anyone else may read is refused, not silently used.
 */
export function loadOrCreateTokenFile(dir: string): { token: string; file: string; created: boolean } {
  const file = path.join(dir, 'api-token');
  fs.mkdirSync(dir, { recursive: true });
  try {
    const st = fs.statSync(file);
    if (process.platform !== 'win32' && (st.mode & 0o077) !== 0) {
      throw new ApiError(500, 'token_file_open', `${file} may be read by other users (mode ${(st.mode & 0o777).toString(8)}). Run "chmod 600 ${file}" or delete it to make a new token.`);
    }
    const token = fs.readFileSync(file, 'utf8').trim();
    if (token.length >= 32) return { token, file, created: false };
  } catch (e) {
    if (e instanceof ApiError) throw e;
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const token = newToken();
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, `${token}\n`, { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return { token, file, created: true };
}
