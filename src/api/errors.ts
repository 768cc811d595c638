/**
 * Every error the API sends is JSON `{code, message}` with a fitting HTTP status. Core errors keep their
 * stable `reason` as the code, so a client branches on it exactly as the editor does; nothing unexpected
 * leaks a stack trace.
 */
import { AppError, type ErrorReason } from '../core/errors';

export interface ErrorBody {
  code: string;
  message: string;
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const STATUS: Partial<Record<ErrorReason, number>> = {
  validation: 400,
  path_escape: 400,
  not_found: 404,
  conflict: 409,
  illegal_transition: 409,
  no_slot: 409,
  cancelled: 409,
  workspace: 409,
  provider: 502,
  storage_locked: 503,
};

/** The status and body for anything thrown by a handler. */
export function toHttpError(e: unknown): { status: number; body: ErrorBody } {
  if (e instanceof ApiError) return { status: e.status, body: { code: e.code, message: e.message } };
  if (AppError.is(e)) return { status: STATUS[e.reason] ?? 500, body: { code: e.reason, message: e.message } };
  return { status: 500, body: { code: 'internal', message: 'The server failed to handle the request; its log says why.' } };
}
