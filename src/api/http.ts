/** Request bodies (bounded, JSON only) and JSON responses. */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { ApiError, type ErrorBody } from './errors';

/** Bodies over this are refused with 413 before they are read to the end. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/**
 * The raw body, refused with 413 when it is larger than `limit`. A body up to 8 times the limit is read
 * to its end and dropped first, so the client, still sending, reads the answer instead of a broken pipe;
 * a larger one is refused at once and the connection closed.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const tooLarge = () => new ApiError(413, 'payload_too_large', `The body is larger than ${limit} bytes.`);
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit * 8) return Promise.reject(tooLarge());
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const over = Number.isFinite(declared) && declared > limit;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit * 8 && !settled) {
        settled = true;
        reject(tooLarge());
      } else if (size <= limit && !over) chunks.push(c);
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (over || size > limit) reject(tooLarge());
      else resolve(Buffer.concat(chunks));
    });
    req.on('error', e => !settled && ((settled = true), reject(e)));
  });
}

/** Parses a JSON body; an empty body is `undefined`. */
export function parseJson(req: IncomingMessage, raw: Buffer): unknown {
  if (raw.length === 0) return undefined;
  const type = String(req.headers['content-type'] ?? '');
  if (!/^application\/json\b/i.test(type)) throw new ApiError(415, 'unsupported_media_type', 'Send the body as JSON with "Content-Type: application/json".');
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch (e) {
    throw new ApiError(400, 'bad_json', `The body is not valid JSON: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? '' : JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
}

export function sendError(res: ServerResponse, status: number, body: ErrorBody): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, body);
}
