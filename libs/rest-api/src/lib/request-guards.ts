import type { RequestHandler } from 'express';
import { AuthError, AuthErrorCode, principalOf, sendAuthError } from '@shipdeck/auth';
import { ErrorCode } from '@shipdeck/errors';
import { HttpError } from './http-errors';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The media types an HTML form (or a `fetch` without a CORS preflight) can send cross-site. A
 * browser adds the session cookie to such requests, so a state-changing request that rests on the
 * cookie alone must come with another type (which only this site's own scripts can set).
 */
const CROSS_SITE_TYPES = ['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain'];

/**
 * Refuses (403) a state-changing request authenticated by the session cookie that a page of another
 * site could have forged: one without a Content-Type (a body-less POST) or with a form or plain-text
 * type. Requests with an `Authorization` header cannot be forged that way and pass.
 */
export function refuseCrossSiteRequests(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method) || principalOf(req).via !== 'session') {
      next();
      return;
    }
    const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
    if (type === undefined || type === '' || CROSS_SITE_TYPES.includes(type)) {
      const message = 'a state-changing request with a session cookie needs Content-Type: application/json (cross-site requests are refused)';
      sendAuthError(res, new AuthError(AuthErrorCode.FORBIDDEN, message));
      return;
    }
    next();
  };
}

/**
 * Answers 400 to a request whose Host header is not in `allowedHosts` (DNS rebinding; a master
 * reached under a name it does not know). An empty list accepts every host.
 */
export function refuseUnknownHosts(allowedHosts: readonly string[]): RequestHandler {
  const allowed = new Set(allowedHosts.map((host) => host.toLowerCase()));
  return (req, _res, next) => {
    if (allowed.size === 0) {
      next();
      return;
    }
    const host = (req.headers.host ?? '').toLowerCase();
    const name = host.replace(/:\d+$/, '');
    if (allowed.has(host) || allowed.has(name)) next();
    else next(new HttpError(400, ErrorCode.VALIDATION_FAILED, 'unknown Host header: this master answers only the names in server.allowedHosts'));
  };
}
