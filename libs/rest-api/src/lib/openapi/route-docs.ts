import { AuditListQuery, LoginBody, TokenBody, UserBody } from '../auth-dtos';
import {
  ArchiveQuery,
  ControlTaskBody,
  DeploymentBody,
  DeploymentPreviewBody,
  EnvironmentBody,
  HostBody,
  ScheduleBody,
  TaskListQuery,
  UndeploymentBody,
} from '../dtos';
import { PageQuery } from '../paging';
import { EventsQuery } from '../routers/events-router';
import { DtoClass } from '../validation';
import { JsonSchema } from './json-schemas';

/** The success answer of a route. */
export interface SuccessDoc {
  status: 200 | 201 | 204;
  description: string;
  /** The JSON answer's schema; none for 204. */
  schema?: JsonSchema;
  /** @default application/json */
  mediaType?: string;
}

/**
 * What the OpenAPI document says of one route beyond what the route table and the DTOs tell:
 * its summary, its body and query DTOs, its success answer, and the error statuses that depend on
 * what it does (those every route of a kind answers are added by the generator).
 */
export interface RouteDoc {
  summary: string;
  body?: DtoClass<object>;
  /** Media types of the body; @default ['application/json'] */
  bodyTypes?: string[];
  /** A body without a DTO (its shape checked by the domain), e.g. a package manifest. */
  bodySchema?: JsonSchema;
  query?: DtoClass<object>;
  ok: SuccessDoc;
  /** Another success answer with the same body, e.g. 201 of a create-or-replace that created. */
  also?: { status: 200 | 201; description: string };
  /** Error statuses this route answers besides 400 (bad input), 401/403 (access) and 413/415 (bodies). */
  errors?: number[];
  /**
   * The answer is one page of a longer list: `ok.schema` is the whole list (an array), the
   * document answers `{items, nextCursor}` of it; `query` then holds `limit` and `cursor`.
   */
  paged?: boolean;
}

const ref = (name: string): JsonSchema => ({ $ref: `#/components/schemas/${name}` });
const listOf = (name: string): JsonSchema => ({ type: 'array', items: ref(name) });
const json = (description: string, schema: JsonSchema, status: 200 | 201 = 200): SuccessDoc => ({ status, description, schema });
const noContent = (description: string): SuccessDoc => ({ status: 204, description });
const resource = (description: string, status: 200 | 201 = 200) => json(description, ref('Resource'), status);
/**
 * A list answered a page at a time (`getPage` of routing.ts): `{items, nextCursor}` of
 * `schema`'s items, `limit` and `cursor` from `query` (PageQuery, or a list query extending it).
 */
const paged = (summary: string, description: string, items = 'Resource', query: DtoClass<object> = PageQuery): RouteDoc => ({
  summary,
  query,
  ok: json(description, listOf(items)),
  paged: true,
});

const TASK_OPERATION = (what: string): RouteDoc => ({
  summary: what,
  ok: json('The task after the operation', ref('Task')),
  errors: [404, 409],
});
const STEP_CHANGE = (what: string): RouteDoc => ({
  summary: what,
  ok: json('The task with its changed plan', ref('Task')),
  errors: [404, 409],
});

/** Every route of ROUTE_POLICIES, documented; the spec of openapi-document.ts checks that the keys are the same. */
export const ROUTE_DOCS: Readonly<Record<string, RouteDoc>> = {
  'GET /live': { summary: 'Liveness probe: the process answers', ok: json('Alive', ref('Health')) },
  'GET /ready': { summary: 'Readiness probe: database and broker reachable', ok: json('Ready', ref('Health')), errors: [503] },
  'GET /metrics': {
    summary: 'Prometheus metrics of this master (text exposition format)',
    ok: { status: 200, description: 'Every metric', schema: { type: 'string' }, mediaType: 'text/plain; version=0.0.4' },
  },
  'GET /openapi.json': { summary: 'This document', ok: json('The OpenAPI 3.1 document', { type: 'object' }) },
  'POST /auth/login': {
    summary: 'Log in: answers the session cookie (HttpOnly, SameSite=Strict)',
    body: LoginBody,
    ok: json('Logged in; the session cookie is set', ref('Resource')),
    errors: [401, 429],
  },
  'POST /auth/logout': { summary: 'Log out: ends the session of the cookie sent', ok: noContent('Logged out; the cookie is cleared') },

  'GET /hosts': paged('List hosts', 'Hosts'),
  'GET /hosts/:name': { summary: 'Get a host', ok: resource('The host'), errors: [404] },
  'PUT /hosts/:name': { summary: 'Create or replace a host', body: HostBody, ok: resource('Replaced'), also: { status: 201, description: 'Created' } },
  'DELETE /hosts/:name': { summary: 'Delete a host', ok: noContent('Deleted'), errors: [404, 409] },
  'GET /environments': paged('List environments', 'Environments'),
  'GET /environments/:name': { summary: 'Get an environment', ok: resource('The environment'), errors: [404] },
  'PUT /environments/:name': {
    summary: 'Create or replace an environment',
    body: EnvironmentBody,
    ok: resource('Replaced'),
    also: { status: 201, description: 'Created' },
    // 409: it would drop a host that still holds deployed applications.
    errors: [404, 409],
  },
  'DELETE /environments/:name': { summary: 'Delete an environment', ok: noContent('Deleted'), errors: [404, 409] },
  'GET /environments/:name/deployed': { ...paged('What is deployed in an environment', 'Deployed applications'), errors: [404] },

  'POST /packages': {
    summary: 'Import a package (a manifest, JSON or YAML)',
    bodySchema: { type: 'object', description: 'A package manifest (docs/packages.md); the domain checks its shape.' },
    bodyTypes: ['application/json', 'application/yaml'],
    ok: resource('Imported', 201),
    also: { status: 200, description: 'Already imported with the same content: nothing changed' },
    errors: [409],
  },
  'GET /applications': paged('List imported applications', 'Applications'),
  'GET /applications/:app/versions': {
    summary: 'List the versions of an application',
    query: PageQuery,
    ok: json('Its version numbers', { type: 'array', items: { type: 'string' } }),
    paged: true,
    errors: [404],
  },

  'POST /deployments/preview': {
    summary: 'Plan a deployment without creating it',
    body: DeploymentPreviewBody,
    ok: resource('The plan'),
    // 409: another deployment of the application to the environment is unfinished.
    errors: [404, 409],
  },
  'POST /deployments': { summary: 'Create a deployment task (PENDING; QUEUED with start: true)', body: DeploymentBody, ok: json('Created', ref('CreatedTask'), 201), errors: [404, 409] },
  'POST /undeployments': { summary: 'Create an undeployment task (PENDING; QUEUED with start: true)', body: UndeploymentBody, ok: json('Created', ref('CreatedTask'), 201), errors: [404, 409] },
  'POST /control-tasks': { summary: 'Create a control task (PENDING; QUEUED with start: true)', body: ControlTaskBody, ok: json('Created', ref('CreatedTask'), 201), errors: [404] },

  'GET /tasks': paged('List current tasks', 'Tasks, oldest first, without their plans', 'TaskSummary', TaskListQuery),
  'GET /tasks/:id': { summary: 'Get a task', ok: json('The task with its plan, steps and `actors`', ref('Task')), errors: [404] },
  'DELETE /tasks/:id': { summary: 'Remove a task from the monitor', ok: noContent('Removed'), errors: [404, 409] },
  'GET /tasks/:id/steps/:path/log': {
    summary: 'The log of a step',
    ok: { status: 200, description: 'The log text', schema: { type: 'string' }, mediaType: 'text/plain' },
    errors: [404],
  },
  'GET /tasks/:id/events': {
    summary: 'Follow a task: Server-Sent Events',
    ok: {
      status: 200,
      description:
        'A stream of `log` ({path, text}: new text of a step log), `step` ({path, state}), `state` ({state}) and `removed` events, ' +
        'the history first. Each event id is the stream position: reconnect with `Last-Event-ID` to resume without gaps or duplicates, through any master.',
      schema: { type: 'string' },
      mediaType: 'text/event-stream',
    },
    // 400 also when `Accept` does not include text/event-stream.
    errors: [400, 404],
  },
  'GET /events': {
    summary: 'Follow all current tasks: Server-Sent Events for dashboards',
    query: EventsQuery,
    ok: {
      status: 200,
      description:
        'A `task` event ({id, type, state, application, version, environment, worker, description}) for each current task matching the filter, ' +
        'then one whenever a task appears or changes state, and `gone` ({id}) when one leaves the set. A reconnect replays the current set.',
      schema: { type: 'string' },
      mediaType: 'text/event-stream',
    },
  },
  'POST /tasks/:id/start': TASK_OPERATION('Start (queue) a task'),
  'POST /tasks/:id/stop': TASK_OPERATION('Stop a task after its running steps'),
  'POST /tasks/:id/abort': TASK_OPERATION('Abort a task: kill its running steps'),
  'POST /tasks/:id/cancel': TASK_OPERATION('Cancel a task'),
  'POST /tasks/:id/archive': TASK_OPERATION('Archive an executed task'),
  'POST /tasks/:id/schedule': { ...TASK_OPERATION('Schedule a task'), body: ScheduleBody },
  'POST /tasks/:id/steps/:path/skip': STEP_CHANGE('Skip a step'),
  'POST /tasks/:id/steps/:path/unskip': STEP_CHANGE('Run a skipped step again'),
  'POST /tasks/:id/steps/:path/pause-before': STEP_CHANGE('Pause before a step'),
  'GET /archive/tasks': paged('List archived tasks (DONE, CANCELLED)', 'Tasks, newest first, without their plans', 'TaskSummary', ArchiveQuery),

  'GET /workers': paged('List workers as this master sees them', 'Workers'),
  'POST /workers/restore-ghost-tasks': { summary: 'Register ghost tasks again', ok: resource('What each worker restored') },
  'POST /workers/:id/drain': { summary: 'Drain a worker', ok: resource("The worker's answer"), errors: [404, 409] },
  'DELETE /workers/:id': { summary: 'Forget a disconnected worker', ok: noContent('Forgotten'), errors: [404, 409] },
  'GET /server/info': { summary: "This master's version, id and configuration hash", ok: resource('Server information') },

  'GET /users': paged('List users', 'Users, without their passwords'),
  'POST /users': { summary: 'Create a user', body: UserBody, ok: resource('Created', 201), errors: [409] },
  'DELETE /users/:name': { summary: 'Delete a user', ok: noContent('Deleted'), errors: [404] },
  'GET /tokens': paged('List API tokens (your own; all for admins)', 'Tokens, without their secrets'),
  'POST /tokens': { summary: 'Create an API token (its secret is shown once)', body: TokenBody, ok: resource('Created, with `token`', 201), errors: [409] },
  'DELETE /tokens/:id': { summary: 'Revoke an API token', ok: resource('Revoked'), errors: [404] },
  'GET /audit': {
    summary: 'The audit trail, newest first',
    query: AuditListQuery,
    ok: json('One page of audit entries', { type: 'array', items: { type: 'object' } }),
    paged: true,
  },
};
