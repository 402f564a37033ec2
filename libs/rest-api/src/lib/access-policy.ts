import type { Request, RequestHandler } from 'express';
import { EnvironmentOf, Permission, requirePermission } from '@shipdeck/auth';

/**
 * Who may call a route: `public` routes need no credentials (health, login); every other route
 * names the permission it needs (docs/security.md lists them by role). `environment` says where
 * an environment-scoped permission finds the environment the request touches: the JSON body's
 * `environment` field, or the task named by the `:id` path parameter.
 */
export interface RoutePolicy {
  permission: Permission | 'public';
  environment?: 'body' | 'task';
}

const READ: RoutePolicy = { permission: 'read' };
const OPERATE_TASK: RoutePolicy = { permission: 'task:operate', environment: 'task' };
const MANAGE_WORKERS: RoutePolicy = { permission: 'worker:manage' };

/**
 * Every route, as `METHOD path` with the path as its router declares it. A route missing here
 * cannot be registered (see {@link guardOf}), so no route is ever open by omission.
 */
export const ROUTE_POLICIES: Readonly<Record<string, RoutePolicy>> = {
  'GET /live': { permission: 'public' },
  'GET /ready': { permission: 'public' },
  // Counts and durations only, no task ids or names: open to scrapers like the probes.
  'GET /metrics': { permission: 'public' },
  // The API's description is no secret; the reference page (public too) loads it without credentials.
  'GET /openapi.json': { permission: 'public' },
  'POST /auth/login': { permission: 'public' },
  'POST /auth/logout': { permission: 'public' },

  'GET /hosts': READ,
  'GET /hosts/:name': READ,
  'PUT /hosts/:name': { permission: 'infrastructure:manage' },
  'DELETE /hosts/:name': { permission: 'infrastructure:manage' },
  'GET /environments': READ,
  'GET /environments/:name': READ,
  'PUT /environments/:name': { permission: 'environment:manage' },
  'DELETE /environments/:name': { permission: 'environment:manage' },
  'GET /environments/:name/deployed': READ,

  'POST /packages': { permission: 'package:import' },
  'GET /applications': READ,
  'GET /applications/:app/versions': READ,

  'POST /deployments/preview': READ,
  'POST /deployments': { permission: 'deploy', environment: 'body' },
  'POST /undeployments': { permission: 'deploy', environment: 'body' },
  'POST /control-tasks': { permission: 'control' },

  'GET /tasks': READ,
  'GET /tasks/:id': READ,
  'DELETE /tasks/:id': OPERATE_TASK,
  'GET /tasks/:id/steps/:path/log': READ,
  'GET /tasks/:id/events': READ,
  'GET /events': READ,
  'POST /tasks/:id/start': OPERATE_TASK,
  'POST /tasks/:id/stop': OPERATE_TASK,
  'POST /tasks/:id/abort': OPERATE_TASK,
  'POST /tasks/:id/cancel': OPERATE_TASK,
  'POST /tasks/:id/archive': OPERATE_TASK,
  'POST /tasks/:id/schedule': OPERATE_TASK,
  'POST /tasks/:id/steps/:path/skip': OPERATE_TASK,
  'POST /tasks/:id/steps/:path/unskip': OPERATE_TASK,
  'POST /tasks/:id/steps/:path/pause-before': OPERATE_TASK,
  'GET /archive/tasks': READ,

  'GET /workers': READ,
  'POST /workers/restore-ghost-tasks': MANAGE_WORKERS,
  'POST /workers/:id/drain': MANAGE_WORKERS,
  'DELETE /workers/:id': MANAGE_WORKERS,
  'GET /server/info': READ,

  'GET /users': { permission: 'user:manage' },
  'POST /users': { permission: 'user:manage' },
  'DELETE /users/:name': { permission: 'user:manage' },
  // Everyone may manage their own tokens; the router checks ownership (token:manage for others').
  'GET /tokens': { permission: 'token:own' },
  'POST /tokens': { permission: 'token:own' },
  'DELETE /tokens/:id': { permission: 'token:own' },
  'GET /audit': { permission: 'audit:read' },
};

const guarded = new Set<string>();

/** The `METHOD path` of every route registered so far (for the test that every policy has its route). */
export function guardedRoutes(): ReadonlySet<string> {
  return guarded;
}

/** What the access checks look up while a request is authorized; set once per app. */
export interface AccessContext {
  /** The environment of a task's deployment: null for a control task or an unknown task (the route then answers 404). */
  taskEnvironment(taskId: string): Promise<string | null>;
}

const ACCESS_CONTEXT = 'shipdeckAccess';

/** Makes `context` available to the access checks of every route of the app. */
export function setAccessContext(locals: Record<string, unknown>, context: AccessContext): void {
  locals[ACCESS_CONTEXT] = context;
}

/**
 * The access check of `METHOD path`: nothing for a public route, else {@link requirePermission}.
 * Throws at registration when the route has no policy.
 */
export function guardOf(method: string, path: string): RequestHandler[] {
  const key = `${method.toUpperCase()} ${path}`;
  const policy = ROUTE_POLICIES[key];
  if (!policy) throw new Error(`route ${key} has no access policy: add it to ROUTE_POLICIES (access-policy.ts)`);
  guarded.add(key);
  if (policy.permission === 'public') return [];
  return [requirePermission(policy.permission, policy.environment && ENVIRONMENT_OF[policy.environment])];
}

const ENVIRONMENT_OF: Readonly<Record<NonNullable<RoutePolicy['environment']>, EnvironmentOf>> = {
  // A body without an environment names none: the route's validation then answers 400.
  body: (req) => {
    const environment: unknown = (req.body as Record<string, unknown> | undefined)?.['environment'];
    return typeof environment === 'string' ? environment : null;
  },
  task: (req) => accessContext(req).taskEnvironment(String(req.params['id'])),
};

function accessContext(req: Request): AccessContext {
  const context = req.app.locals[ACCESS_CONTEXT] as AccessContext | undefined;
  if (!context) throw new Error('no access context: createRestApp() sets it');
  return context;
}
