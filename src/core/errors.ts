/**
 * Errors that reach the user. Each has a `reason` (a stable code the UI and API can branch on) and a
 * message that says what happened and what to do. `AppError.is(e, reason?)` recognises them across
 * module copies, without `instanceof`.
 */

export type ErrorReason =
  | 'validation'
  | 'not_found'
  | 'conflict'
  | 'illegal_transition'
  | 'storage_corrupt'
  | 'storage_newer_schema'
  | 'storage_locked'
  | 'storage_io'
  | 'workspace'
  | 'path_escape'
  | 'cancelled'
  | 'no_slot'
  | 'provider'
  | 'internal';

export class AppError extends Error {
  override readonly name = 'AppError';
  readonly reason: ErrorReason;
  /** Extra facts for the log (file paths, ids); never shown raw in notifications. */
  readonly detail?: Record<string, unknown>;

  constructor(reason: ErrorReason, message: string, detail?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message, options);
    this.reason = reason;
    this.detail = detail;
  }

  static is(e: unknown, reason?: ErrorReason): e is AppError {
    return (
      typeof e === 'object' &&
      e !== null &&
      (e as { name?: unknown }).name === 'AppError' &&
      typeof (e as { reason?: unknown }).reason === 'string' &&
      (reason === undefined || (e as { reason: string }).reason === reason)
    );
  }
}

/** A message fit for a notification, whatever was thrown. */
export function errorMessage(e: unknown): string {
  if (e instanceof Error) return e.message;
  return String(e);
}
