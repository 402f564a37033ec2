import { Request, RequestHandler, Response, Router } from 'express';
import { AUDIT_DETAIL, AUDIT_TASK_ID, AuthError, AuthErrorCode, auditEntryOf, auditStoredWithEffect, authorize, principalOf } from '@shipdeck/auth';
import { FieldError } from '@shipdeck/errors';
import type { TaskCreationOptions } from '@shipdeck/master-services';
import type { TaskView } from '@shipdeck/tasks';
import { guardOf } from './access-policy';
import { isBodyReader, readBody } from './body';
import { methodNotAllowed } from './http-errors';
import { PageQuery, pageOf, pageRequest } from './paging';
import { DtoClass, bodyOf, invalid, param, queryOf } from './validation';

/** Where the API is mounted. */
export const API_BASE_PATH = '/api/v1';

/** What `POST /deployments`, `/undeployments` and `/control-tasks` answer (201). */
export interface CreatedTask {
  taskId: string;
  task: TaskView;
}

type Method = 'get' | 'put' | 'post' | 'delete';

/** The handlers of one path, by method; each entry is the middleware chain of that method. */
export type MethodHandlers = Partial<Record<Method, RequestHandler[]>>;

/**
 * Registers the handlers of `path` and answers any other method with 405 (and OPTIONS with the
 * allowed methods), so that a wrong method is told apart from an unknown path. Each method's chain
 * gets the route's access check (access-policy.ts), after the body reader when there is one so
 * that a check may look into the body.
 */
export function route(router: Router, path: string, handlers: MethodHandlers): void {
  const r = router.route(path);
  const allowed: string[] = [];
  for (const method of ['get', 'put', 'post', 'delete'] as const) {
    const chain = handlers[method];
    if (!chain) continue;
    const readers = chain.findIndex((handler) => !isBodyReader(handler));
    const split = readers === -1 ? chain.length : readers;
    r[method](...chain.slice(0, split), ...guardOf(method, path), ...chain.slice(split));
    allowed.push(method.toUpperCase());
  }
  r.all(methodNotAllowed(allowed));
}

/** A GET handler answering what `read` answers as JSON. */
export function getJson(read: (req: Request) => unknown): RequestHandler[] {
  return [async (req, res) => void res.json(await read(req))];
}

/**
 * A GET handler answering one page (`{items, nextCursor}`) of the list `read` answers, as the
 * query's `limit` and `cursor` ask (spec §6).
 */
export function getPage<T>(read: (req: Request) => Promise<readonly T[]>, map: (item: T) => unknown = (item) => item): RequestHandler[] {
  return getJson(async (req) => {
    const page = pageOf(await read(req), pageRequest(queryOf(req, PageQuery)));
    return { items: page.items.map(map), nextCursor: page.nextCursor };
  });
}

/** A handler that runs `act` and answers 204 No Content. */
export function noContent(act: (req: Request) => Promise<void>): RequestHandler[] {
  return [
    async (req, res) => {
      await act(req);
      res.status(204).end();
    },
  ];
}

/**
 * The PUT of a resource named by its path (`/hosts/{name}`): the body's optional `name` must
 * match the path; answers 201 when `save` created the resource, 200 when it replaced it.
 */
export function putNamed<B extends { name?: string }>(
  dto: DtoClass<B>,
  save: (name: string, body: B) => Promise<{ created: boolean; value: unknown }>,
): RequestHandler[] {
  return [
    readBody(['json']),
    async (req, res) => {
      const name = param(req, 'name');
      const body = bodyOf(req, dto);
      if (body.name !== undefined && body.name !== name) {
        const detail: FieldError = { field: 'name', message: `must match the name in the path (${name})` };
        throw invalid('request body', [detail]);
      }
      const { created, value } = await save(name, body);
      res.status(created ? 201 : 200).json(value);
    },
  ];
}

/** Answers 201 Created with a Location header. */
export function created(res: Response, location: string, body: unknown): void {
  res.status(201).location(location).json(body);
}

/** The audit detail of a creation that also started its task (`start: true`): the task's startedBy. */
export const STARTED_ON_CREATE = 'started';

/** How a route creates a task, and starts it when the body says `start: true`. */
export interface TaskCreation {
  /** The body's `start`. */
  start: boolean | undefined;
  /** The task's environment for the start permission: null for a control task. */
  environment: string | null;
  /** Creates the task, started (QUEUED and published) when `options.start` says so. */
  create(options: TaskCreationOptions): Promise<TaskView>;
}

/**
 * Creates a task and answers 201 with its {@link CreatedTask}. With `start: true` the task is
 * created started, as `POST /tasks/{id}/start` would leave it (one round trip and one INSERT
 * instead of two requests): that needs the start route's permission (`task:operate` in the
 * task's environment), checked before anything is created, and the creation's audit entry says
 * {@link STARTED_ON_CREATE}.
 */
export async function createTask(req: Request, res: Response, creation: TaskCreation): Promise<void> {
  const start = creation.start === true;
  if (start) {
    const principal = principalOf(req);
    const decision = authorize(principal, 'task:operate', { environment: creation.environment });
    if (!decision.allowed) throw new AuthError(AuthErrorCode.FORBIDDEN, `${principal.username}: start: ${decision.reason}`);
  }
  // The creation's audit entry is stored with the task (one statement on PostgreSQL), naming it for
  // the task view's actors: a task never exists without it, and a failed creation leaves the entry
  // of its failure to the audit trail.
  const entry = auditEntryOf(req, res, 201);
  const audit = entry === null ? undefined : { ...withoutTaskId(entry), detail: start ? STARTED_ON_CREATE : null };
  const task = await creation.create(audit === undefined ? { start } : { start, audit });
  if (audit !== undefined) auditStoredWithEffect(req);
  res.locals[AUDIT_TASK_ID] = task.id;
  if (start) res.locals[AUDIT_DETAIL] = STARTED_ON_CREATE;
  created(res, `${API_BASE_PATH}/tasks/${encodeURIComponent(task.id)}`, { taskId: task.id, task } satisfies CreatedTask);
}

function withoutTaskId<T extends { taskId: unknown }>(entry: T): Omit<T, 'taskId'> {
  const { taskId: _taskId, ...rest } = entry;
  return rest;
}

/** A collection of resources named by their path, such as `/hosts` and `/hosts/{name}`. */
export interface NamedCollection<B extends { name?: string }> {
  /** Every resource; `GET path` answers it a page at a time. */
  list(): Promise<readonly unknown[]>;
  get(name: string): Promise<unknown>;
  /** The body of a PUT. */
  body: DtoClass<B>;
  /** Creates or replaces the resource; see {@link putNamed}. */
  save(name: string, body: B): Promise<{ created: boolean; value: unknown }>;
  /** Only for collections whose resources can be deleted. */
  delete?(name: string): Promise<void>;
}

/** Registers `GET path`, and `GET`, `PUT` (and `DELETE`) on `path/:name`. */
export function namedCollection<B extends { name?: string }>(router: Router, path: string, collection: NamedCollection<B>): void {
  const remove = collection.delete?.bind(collection);
  route(router, path, { get: getPage(() => collection.list()) });
  route(router, `${path}/:name`, {
    get: getJson((req) => collection.get(param(req, 'name'))),
    put: putNamed(collection.body, (name, body) => collection.save(name, body)),
    ...(remove ? { delete: noContent((req) => remove(param(req, 'name'))) } : {}),
  });
}
