import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import { Logger } from '@shipdeck/logging';
import { AuditRecorder, outcomeOfStatus, recordSafely } from './audit';
import { AuthService, Principal } from './auth-service';
import { readCookie, SESSION_COOKIE } from './cookies';
import { AuthError, AuthErrorCode, authErrorAnswer } from './errors';
import { CLUSTER_SCHEME, verifyClusterCredential } from './cluster-credential';
import { Permission, authorize } from './permissions';
import type { NewAuditEntry } from './store';

/** Who a worker calling the master API with the cluster credential is: a reader, nothing more. */
export const WORKER_PRINCIPAL: Principal = Object.freeze({
  userId: 'cluster-worker',
  username: 'cluster-worker',
  role: 'viewer',
  environments: null,
  via: 'cluster',
  tokenId: null,
});

declare global {
  // eslint-disable-next-line @typescript-eslint/no-namespace
  namespace Express {
    interface Request {
      /** Who made the request; set by {@link authenticate}. */
      principal?: Principal;
    }
  }
}

/** Options of {@link authenticate}. */
export interface AuthenticateOptions {
  auth: AuthService;
  /**
   * The cluster secret: when set, workers may call with `Authorization: Cluster …`
   * ({@link clusterAuthorization}) and act as the read-only {@link WORKER_PRINCIPAL}.
   */
  clusterSecret?: string | null;
  /** Default {@link SESSION_COOKIE}. */
  cookieName?: string;
}

/**
 * Turns the request's credentials into `req.principal`: `Authorization: Bearer TOKEN`,
 * `Authorization: Basic …` (user name and password), or else the session cookie. Answers 401
 * UNAUTHENTICATED (in the error shape, with a `WWW-Authenticate` challenge) when there are none
 * or they are not valid, 429 when password attempts are rate-limited; store failures go to the
 * error handler. A request with an `Authorization` header is judged by it alone, never by a
 * cookie that comes with it.
 */
export function authenticate(options: AuthenticateOptions): RequestHandler {
  const cookieName = options.cookieName ?? SESSION_COOKIE;
  return (req, res, next) => {
    principalFromRequest(req, options, cookieName).then(
      (principal) => {
        req.principal = principal;
        next();
      },
      (error: unknown) => {
        if (error instanceof AuthError) sendAuthError(res, error);
        else next(error);
      },
    );
  };
}

async function principalFromRequest(req: Request, options: AuthenticateOptions, cookieName: string): Promise<Principal> {
  const { auth } = options;
  const header = req.headers.authorization;
  if (header !== undefined) {
    const [scheme, value, ...rest] = header.trim().split(/\s+/);
    if (value === undefined || rest.length > 0) throw unauthenticated('malformed Authorization header');
    switch (scheme!.toLowerCase()) {
      case 'bearer':
        return auth.verifyToken(value);
      case 'basic': {
        const decoded = Buffer.from(value, 'base64').toString('utf8');
        const colon = decoded.indexOf(':');
        if (colon <= 0) throw unauthenticated('malformed basic credentials');
        return auth.verifyPassword(decoded.slice(0, colon), decoded.slice(colon + 1), clientAddress(req));
      }
      case CLUSTER_SCHEME.toLowerCase():
        if (options.clusterSecret && verifyClusterCredential(options.clusterSecret, value, Date.now())) return WORKER_PRINCIPAL;
        throw unauthenticated('cluster credential refused: the worker needs the masters\' cluster.secret');
      default:
        throw unauthenticated(`unsupported authorization scheme ${scheme!.slice(0, 32)}; use Bearer or Basic`);
    }
  }
  const sessionId = readCookie(req.headers.cookie, cookieName);
  if (sessionId !== undefined) return auth.verifySession(sessionId);
  throw unauthenticated('credentials required: an API token (Authorization: Bearer), basic auth or a session cookie');
}

/** Where a request's audit entry says it was aimed, noted by {@link requirePermission} inside the route. */
interface AuditTarget {
  action: string;
  objectIds: Record<string, string>;
}
const auditTargets = new WeakMap<Request, AuditTarget>();

/**
 * Tells from a request which environment it touches (for deployers narrowed to some
 * environments): a name, null for an object that belongs to none, undefined when unknown.
 * May look things up (e.g. a task's deployment); a rejection goes to the error handler.
 */
export type EnvironmentOf = (req: Request) => string | null | undefined | Promise<string | null | undefined>;

/**
 * Lets the request through only when `req.principal` holds `permission` (in the environment
 * `environmentOf` names, for environment-scoped permissions). Answers 401 when no principal was
 * established and 403 FORBIDDEN, saying why, when the permission is missing.
 */
export function requirePermission(permission: Permission, environmentOf?: EnvironmentOf): RequestHandler {
  return (req, res, next) => {
    auditTargets.set(req, {
      action: `${req.method} ${req.baseUrl}${typeof req.route?.path === 'string' ? req.route.path : req.path}`,
      objectIds: stringParams(req.params),
    });
    const principal = req.principal;
    if (!principal) {
      sendAuthError(res, unauthenticated('credentials required'));
      return;
    }
    Promise.resolve(environmentOf ? environmentOf(req) : undefined).then(
      (environment) => {
        const decision = authorize(principal, permission, environment === undefined ? {} : { environment });
        if (decision.allowed) next();
        else sendAuthError(res, new AuthError(AuthErrorCode.FORBIDDEN, `${principal.username}: ${decision.reason}`));
      },
      (error: unknown) => next(error),
    );
  };
}

/** The principal of a request that went through {@link authenticate}; throws when there is none (a wiring error). */
export function principalOf(req: Request): Principal {
  if (!req.principal) throw new Error(`no principal on ${req.method} ${req.originalUrl}: authenticate() is not mounted before this route`);
  return req.principal;
}

/** Options of {@link auditTrail}. */
export interface AuditTrailOptions {
  recorder: AuditRecorder;
  logger: Logger;
  /** Default: the system clock. */
  now?: () => Date;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** What {@link auditTrail} noted when a state-changing request arrived. */
interface AuditedRequest {
  /** When the request arrived (ISO): the entry's time. */
  startedAt: string;
  /** The path without its query (the router rewrites `req.path` while it routes). */
  path: string;
  /** The entry is recorded already (by the trail, or stored by the route with its effect). */
  recorded: boolean;
}
const auditedRequests = new WeakMap<Request, AuditedRequest>();

/**
 * Records every state-changing request (any method but GET, HEAD, OPTIONS) when its answer has
 * been sent: who, what (route and object ids, as noted by {@link requirePermission}), the outcome
 * and status, when and from where. Mounted before the routes (and before {@link authenticate},
 * so that refused requests are recorded too). A route may instead store the entry together with
 * its effect ({@link auditEntryOf}, {@link auditStoredWithEffect}); the request is then not
 * recorded again.
 */
export function auditTrail(options: AuditTrailOptions): RequestHandler {
  const now = options.now ?? (() => new Date());
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) {
      next();
      return;
    }
    const audited: AuditedRequest = { startedAt: now().toISOString(), path: req.originalUrl.split('?')[0] ?? req.originalUrl, recorded: false };
    auditedRequests.set(req, audited);
    const record = () => {
      if (audited.recorded) return;
      audited.recorded = true;
      // A connection closed before the answer was sent ends with status 0: the outcome is unknown, i.e. failed.
      const status = res.writableFinished ? res.statusCode : 0;
      void recordSafely(options.recorder, entryOf(req, res, audited, status), options.logger);
    };
    res.once('finish', record);
    res.once('close', record);
    next();
  };
}

/**
 * The entry {@link auditTrail} would record for `req` answered with `status`, for a route that
 * stores it together with the request's effect (in one statement or transaction), so that the
 * effect never exists without its entry; null when the request is not audited (a safe method, or
 * no trail mounted). Once the effect is stored, the route calls {@link auditStoredWithEffect};
 * when storing fails it does not, and the trail records the failure as for any request.
 */
export function auditEntryOf(req: Request, res: Response, status: number): NewAuditEntry | null {
  const audited = auditedRequests.get(req);
  return audited === undefined ? null : entryOf(req, res, audited, status);
}

/** The route stored the request's audit entry ({@link auditEntryOf}) with its effect: the trail records nothing more. */
export function auditStoredWithEffect(req: Request): void {
  const audited = auditedRequests.get(req);
  if (audited) audited.recorded = true;
}

function entryOf(req: Request, res: Response, audited: AuditedRequest, status: number): NewAuditEntry {
  const target = auditTargets.get(req);
  const principal = req.principal;
  return {
    at: audited.startedAt,
    userId: principal?.userId ?? null,
    username: principal?.username ?? null,
    tokenId: principal?.tokenId ?? null,
    action: target?.action ?? `${req.method} ${audited.path}`,
    objectIds: target?.objectIds ?? {},
    outcome: status === 0 ? 'failed' : outcomeOfStatus(status),
    status: status === 0 ? null : status,
    sourceIp: clientAddress(req),
    detail: typeof res.locals[AUDIT_DETAIL] === 'string' ? res.locals[AUDIT_DETAIL] : null,
    taskId: auditedTaskId(res.locals, target),
  };
}

/**
 * Answers an {@link AuthError} thrown by a route (e.g. a login endpoint calling
 * `AuthService.login`) in the error shape, and passes every other error on. Mounted just before
 * the general error handler, which does not know auth's codes.
 */
export function authErrorHandler(): ErrorRequestHandler {
  return (error: unknown, _req, res, next) => {
    if (error instanceof AuthError && !res.headersSent) sendAuthError(res, error);
    else next(error);
  };
}

/** Answers a refused request in the error shape. */
export function sendAuthError(res: Response, error: AuthError): void {
  const answer = authErrorAnswer(error);
  res.locals[AUDIT_DETAIL] = error.code;
  res.status(answer.status).set(answer.headers).json(answer.body);
}

function unauthenticated(message: string): AuthError {
  return new AuthError(AuthErrorCode.UNAUTHENTICATED, message);
}

function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? 'unknown';
}

/** Where a route that creates a task leaves its id for the audit entry (see {@link auditedTaskId}). */
export const AUDIT_TASK_ID = 'auditTaskId';

/** Where a route leaves the `detail` of its audit entry (a refused request's is the error code). */
export const AUDIT_DETAIL = 'auditDetail';

/** The task a request created (left in `res.locals` by the route) or acted on (`/tasks/:id…`). */
function auditedTaskId(locals: Record<string, unknown>, target: AuditTarget | undefined): string | null {
  const created = locals[AUDIT_TASK_ID];
  if (typeof created === 'string') return created;
  return target && /\/tasks\/:id(\/|$)/.test(target.action) ? (target.objectIds['id'] ?? null) : null;
}

function stringParams(params: Request['params']): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [key, value] of Object.entries(params ?? {})) {
    if (typeof value === 'string') result[key] = value;
  }
  return result;
}
