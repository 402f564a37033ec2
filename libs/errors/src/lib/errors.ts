import { ErrorCode } from './codes';

/** One invalid field of a request, manifest or configuration. */
export interface FieldError {
  /** Dotted path of the field, e.g. `deployables[1].type` or `server.port`. */
  field: string;
  message: string;
}

/** Base class of every error Shipdeck raises on purpose; `code` is stable, `message` is for people. */
export class ShipdeckError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details: FieldError[] = [],
    /** Whether repeating the same operation later may succeed. */
    readonly retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Input that can never succeed as given (HTTP 400). */
export class ValidationError extends ShipdeckError {
  constructor(message: string, details: FieldError[] = [], code: ErrorCode = ErrorCode.VALIDATION_FAILED) {
    super(code, message, details);
  }
}

/** A named thing that does not exist (HTTP 404). */
export class NotFoundError extends ShipdeckError {
  constructor(code: ErrorCode, message: string) {
    super(code, message);
  }
}

/** An operation the current state does not allow (HTTP 409); nothing was changed. */
export class IllegalTransitionError extends ShipdeckError {
  constructor(
    readonly operation: string,
    readonly from: string,
    subject = 'task',
  ) {
    super(ErrorCode.ILLEGAL_TRANSITION, `cannot ${operation} a ${subject} in state ${from}`);
  }
}

/** A concurrent change or a uniqueness clash (HTTP 409). */
export class ConflictError extends ShipdeckError {
  constructor(message: string) {
    super(ErrorCode.CONFLICT, message);
  }
}

/** A deployment that cannot be planned, e.g. an unresolved placeholder (HTTP 400). */
export class PlanningError extends ShipdeckError {
  constructor(message: string, details: FieldError[] = []) {
    super(ErrorCode.PLANNING_FAILED, message, details);
  }
}

/** A configuration that cannot start a process; raised once at start-up. */
export class ConfigError extends ShipdeckError {
  constructor(message: string, details: FieldError[] = []) {
    super(ErrorCode.CONFIG_INVALID, message, details);
  }
}

/** A dependency (database, broker) that is not reachable yet (HTTP 503); retryable. */
export class NotReadyError extends ShipdeckError {
  constructor(message: string) {
    super(ErrorCode.NOT_READY, message, [], true);
  }
}

/** Whether an error is worth retrying: only errors that say so, and transient network failures. */
export function isRetryable(error: unknown): boolean {
  if (error instanceof ShipdeckError) return error.retryable;
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && TRANSIENT_NETWORK_CODES.has(code);
}

const TRANSIENT_NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', '57P01']);
