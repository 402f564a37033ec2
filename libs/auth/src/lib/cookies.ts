/**
 * The session cookie: how it is set, cleared and read. Written here rather than with a cookie
 * library because one cookie with fixed attributes is all there is.
 */

/** The name of the session cookie. */
export const SESSION_COOKIE = 'shipdeck_session';

/** Options of the session cookie. */
export interface SessionCookieOptions {
  /** Send it over HTTPS only. True when the REST port serves HTTPS (or sits behind a TLS proxy). */
  secure: boolean;
}

function attributes(options: SessionCookieOptions): string {
  // HttpOnly: scripts cannot read it. SameSite=Strict: other sites cannot make the browser send it.
  return `Path=/; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}

/** The `Set-Cookie` value that stores a session id until `expiresAt` (ISO time) at `now`. */
export function sessionCookie(sessionId: string, expiresAt: string, now: Date, options: SessionCookieOptions): string {
  const maxAge = Math.max(0, Math.floor((Date.parse(expiresAt) - now.getTime()) / 1000));
  return `${SESSION_COOKIE}=${sessionId}; Max-Age=${maxAge}; ${attributes(options)}`;
}

/** The `Set-Cookie` value that removes the session cookie (at logout). */
export function clearedSessionCookie(options: SessionCookieOptions): string {
  return `${SESSION_COOKIE}=; Max-Age=0; ${attributes(options)}`;
}

/** The value of cookie `name` in a `Cookie` request header, if it is there. */
export function readCookie(header: string | undefined, name: string = SESSION_COOKIE): string | undefined {
  if (!header) return undefined;
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=');
    if (equals < 0) continue;
    if (pair.slice(0, equals).trim() !== name) continue;
    const value = pair.slice(equals + 1).trim();
    return value.startsWith('"') && value.endsWith('"') && value.length >= 2 ? value.slice(1, -1) : value;
  }
  return undefined;
}
