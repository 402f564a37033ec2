/**
 * The error codes auth answers with, their statuses, and the error body they are sent in (the
 * shape of spec §6, `{"error":{"code","message","details"}}`). They live here until they join
 * `ErrorCode` in `@shipdeck/errors` (and the status table of the REST layer).
 */
export const AuthErrorCode = {
  /** No credentials, or credentials that are wrong, expired or revoked (401). */
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  /** Authenticated, but without the permission (403). */
  FORBIDDEN: 'FORBIDDEN',
  /** Too many failed logins from this address for this user (429). */
  TOO_MANY_ATTEMPTS: 'TOO_MANY_ATTEMPTS',
} as const;
export type AuthErrorCode = (typeof AuthErrorCode)[keyof typeof AuthErrorCode];

/** The HTTP status of each auth error code. */
export const AUTH_STATUS_BY_CODE: Readonly<Record<AuthErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  TOO_MANY_ATTEMPTS: 429,
};

/** The challenge sent with every 401 (RFC 9110 requires one). Bearer, so browsers show no login dialog. */
export const WWW_AUTHENTICATE = 'Bearer realm="shipdeck"';

/** A refused request: the code decides the status; `headers` go with the answer. */
export class AuthError extends Error {
  readonly status: number;

  constructor(
    readonly code: AuthErrorCode,
    message: string,
    /** Extra response headers, e.g. `Retry-After` on a 429. */
    readonly headers: Readonly<Record<string, string>> = {},
  ) {
    super(message);
    this.name = 'AuthError';
    this.status = AUTH_STATUS_BY_CODE[code];
  }
}

/** The body of an auth error answer. */
export interface AuthErrorBody {
  error: { code: AuthErrorCode; message: string; details: [] };
}

/** The answer to a refused request: status, headers (with the 401 challenge) and body. */
export function authErrorAnswer(error: AuthError): {
  status: number;
  headers: Record<string, string>;
  body: AuthErrorBody;
} {
  const headers: Record<string, string> = { ...error.headers };
  if (error.status === 401) headers['WWW-Authenticate'] = WWW_AUTHENTICATE;
  return { status: error.status, headers, body: { error: { code: error.code, message: error.message, details: [] } } };
}
