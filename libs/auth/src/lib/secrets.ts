import { createHash, randomBytes } from 'node:crypto';

/**
 * Random bearer secrets (API tokens, session ids) and the hashes they are stored as. A SHA-256 is
 * enough here (unlike for passwords): the secrets carry 256 random bits, so there is nothing to
 * guess, and a database leak must only not hand out usable credentials.
 */

/** Every API token starts with this, so that secret scanners and people recognise one. */
export const TOKEN_PREFIX = 'shipdeck_';

const SECRET_BYTES = 32;
const TOKEN_PATTERN = new RegExp(`^${TOKEN_PREFIX}[A-Za-z0-9_-]{43}$`);
const SESSION_ID_PATTERN = /^[A-Za-z0-9_-]{43}$/;

/** A new API token: the prefix and 32 random bytes in base64url. */
export function generateToken(): string {
  return TOKEN_PREFIX + randomBytes(SECRET_BYTES).toString('base64url');
}

/** A new session id: 32 random bytes in base64url. */
export function generateSessionId(): string {
  return randomBytes(SECRET_BYTES).toString('base64url');
}

/** Whether `value` has the shape of a token this module generates (checked before any lookup). */
export function looksLikeToken(value: string): boolean {
  return TOKEN_PATTERN.test(value);
}

/** Whether `value` has the shape of a session id. */
export function looksLikeSessionId(value: string): boolean {
  return SESSION_ID_PATTERN.test(value);
}

/** The stored form of a token or session id: SHA-256, lowercase hex. */
export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}
