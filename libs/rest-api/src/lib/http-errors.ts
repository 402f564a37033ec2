import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from '@shipdeck/logging';
import { ErrorCode, FieldError, ShipdeckError } from '@shipdeck/errors';

/** The body of every error answer (spec §6). */
export interface ErrorBody {
  error: {
    code: ErrorCode;
    message: string;
    details: FieldError[];
  };
}

/**
 * The HTTP status of every error code: the one place where codes meet statuses. A `Record`
 * over {@link ErrorCode} so that a new code does not compile until it is given a status.
 */
export const STATUS_BY_CODE: Readonly<Record<ErrorCode, number>> = {
  VALIDATION_FAILED: 400,
  MALFORMED_BODY: 400,
  PLANNING_FAILED: 400,
  UNKNOWN_CI_TYPE: 400,
  UNSUPPORTED_MEDIA_TYPE: 415,
  PAYLOAD_TOO_LARGE: 413,
  METHOD_NOT_ALLOWED: 405,
  NOT_FOUND: 404,
  TASK_NOT_FOUND: 404,
  STEP_NOT_FOUND: 404,
  HOST_NOT_FOUND: 404,
  ENVIRONMENT_NOT_FOUND: 404,
  APPLICATION_NOT_FOUND: 404,
  VERSION_NOT_FOUND: 404,
  WORKER_NOT_FOUND: 404,
  NOT_DEPLOYED: 404,
  ILLEGAL_TRANSITION: 409,
  CONFLICT: 409,
  NOT_READY: 503,
  CONFIG_INVALID: 500,
  INTERNAL: 500,
};

/**
 * An error of the HTTP transport itself (body too large, wrong method), which has no
 * ShipdeckError class: it carries its own status next to the closest error code.
 */
export class HttpError extends ShipdeckError {
  constructor(
    readonly status: number,
    code: ErrorCode,
    message: string,
    /** Extra response headers, e.g. `Allow` on a 405. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(code, message);
  }
}

/** What a failed request answers: status, headers and body. */
export interface ErrorAnswer {
  status: number;
  headers: Readonly<Record<string, string>>;
  body: ErrorBody;
}

const GENERIC_MESSAGE = 'internal error; the server log has the details';

/**
 * How much of an error an answer carries: an input with 200,000 bad elements must not answer
 * 200,000 details, and a message quoting hostile input must not answer megabytes.
 */
export const ERROR_DETAIL_LIMITS = {
  /** Details listed; a last detail says how many more there were. */
  maxDetails: 100,
  /** Characters of a message or a field name; longer ones are cut and end in `…`. */
  maxTextLength: 500,
} as const;

/**
 * Maps any thrown value to its answer. ShipdeckErrors keep their code and message; errors of
 * express and its body reader (http-errors with `expose`) keep their 4xx status; anything else
 * is an INTERNAL 500 whose message reveals nothing.
 */
export function toErrorAnswer(error: unknown, requestId?: string): ErrorAnswer {
  if (error instanceof HttpError) {
    return answer(error.status, error.code, error.message, error.details, error.headers);
  }
  if (error instanceof ShipdeckError) {
    return answer(STATUS_BY_CODE[error.code], error.code, error.message, error.details);
  }
  const transport = transportError(error);
  if (transport) return transport;
  const suffix = requestId ? ` (request ${requestId})` : '';
  return answer(500, ErrorCode.INTERNAL, GENERIC_MESSAGE + suffix, []);
}

function answer(
  status: number,
  code: ErrorCode,
  message: string,
  details: FieldError[],
  headers: Readonly<Record<string, string>> = {},
): ErrorAnswer {
  const { maxDetails } = ERROR_DETAIL_LIMITS;
  const shown = details.slice(0, maxDetails).map((d) => ({ field: clip(d.field), message: clip(d.message) }));
  if (details.length > maxDetails) {
    shown.push({ field: '…', message: `${details.length - maxDetails} more invalid fields not listed (at most ${maxDetails} are)` });
  }
  return { status, headers, body: { error: { code, message: clip(message), details: shown } } };
}

function clip(text: string): string {
  const { maxTextLength } = ERROR_DETAIL_LIMITS;
  return text.length <= maxTextLength ? text : `${text.slice(0, maxTextLength - 1)}…`;
}

/** Errors raised by express itself or by body-parser: they carry a status and say whether it is safe to show. */
function transportError(error: unknown): ErrorAnswer | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; statusCode?: unknown; expose?: unknown; type?: unknown; message?: unknown };
  const status = typeof e.status === 'number' ? e.status : e.statusCode;
  // The router raises a URIError with status 400 (no `expose`) for a bad %-escape in a path.
  const safe = e.expose === true || error instanceof URIError;
  if (typeof status !== 'number' || status < 400 || status >= 500 || !safe) return undefined;
  const message = typeof e.message === 'string' ? e.message : 'bad request';
  if (status === 413) return answer(413, ErrorCode.PAYLOAD_TOO_LARGE, 'request body is larger than the limit', []);
  if (status === 415) return answer(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, message, []);
  if (status === 404) return answer(404, ErrorCode.NOT_FOUND, message, []);
  // body-parser tags its errors `entity.*` / `request.*`; the rest (a bad %-escape in a path) is invalid input.
  const bodyError = typeof e.type === 'string';
  return answer(400, bodyError ? ErrorCode.MALFORMED_BODY : ErrorCode.VALIDATION_FAILED, message, []);
}

/** Answers every error in the shape of spec §6 and logs it: 5xx in full at error level, the rest at debug. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, next) => {
    const requestId = res.locals['requestId'] as string | undefined;
    const result = toErrorAnswer(error, requestId);
    const where = { method: req.method, url: req.originalUrl, requestId, status: result.status };
    if (result.status >= 500 && result.body.error.code !== ErrorCode.NOT_READY) {
      logger.error(`request failed: ${describe(error)}`, { ...where, stack: stackOf(error) });
    } else if (result.status === 503) {
      logger.warn(`not ready: ${result.body.error.message}`, where);
    } else {
      logger.debug(`request refused: ${result.body.error.code}: ${result.body.error.message}`, where);
    }
    if (res.headersSent) {
      // Too late to answer; let express close the connection.
      next(error);
      return;
    }
    res.status(result.status).set(result.headers).json(result.body);
  };
}

/** 404 for every path no route matches. */
export function notFoundHandler(): RequestHandler {
  return (req, _res, next) => {
    next(new HttpError(404, ErrorCode.NOT_FOUND, `no such endpoint: ${req.method} ${req.path}`));
  };
}

/** 405 for a known path asked with a method it does not serve; OPTIONS answers the allowed methods. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  const allow = [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : []), 'OPTIONS'].join(', ');
  return (req, res, next) => {
    if (req.method === 'OPTIONS') {
      res.status(204).set('Allow', allow).end();
      return;
    }
    next(
      new HttpError(405, ErrorCode.METHOD_NOT_ALLOWED, `method ${req.method} is not allowed on ${req.path}; allowed: ${allow}`, {
        Allow: allow,
      }),
    );
  };
}

function describe(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

function stackOf(error: unknown): string | undefined {
  return error instanceof Error ? error.stack : undefined;
}
