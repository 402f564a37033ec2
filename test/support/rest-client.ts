/**
 * The REST client of every process-level test (spec §2, §6), and waiting for a task. Task views
 * are the product's own types (`@shipdeck/tasks`), imported for their shape only.
 */
import { request as httpRequest } from 'node:http';
import type { ShownTaskState, StepView, TaskView } from '@shipdeck/tasks';
import { ADMIN_AUTHORIZATION } from './credentials';
import { OPENAPI_PATH, OpenApiCheck } from './openapi-check';
import { pollUntil } from './poll';

/** A request got no HTTP answer (connection refused or reset, timeout): it may or may not have been applied. */
export class NoAnswerError extends Error {}

/** A master answered something its OpenAPI document does not allow (see openapi-check.ts). */
export class OpenApiDriftError extends Error {}

export interface ApiResponse<T = unknown> {
  status: number;
  /** Parsed JSON when the answer is JSON, else the text. */
  body: T;
  text: string;
  headers: Headers;
}

export interface RequestOptions {
  /** Sends `body` as is (it must be a string) with this Content-Type, instead of JSON. */
  contentType?: string;
  /** The `Authorization` header; default: the test admin's ({@link ADMIN_AUTHORIZATION}); null: none. */
  authorization?: string | null;
  /** More request headers, e.g. `x-request-id`. */
  headers?: Record<string, string>;
}

const REQUEST_TIMEOUT_MS = 20_000;

/**
 * One HTTP request on a connection of its own: no keep-alive, so that a socket kept from before
 * a master restart can neither fail a request nor leave it unclear whether it was sent.
 * Rejects with {@link NoAnswerError} when no answer came, and with {@link OpenApiDriftError} when
 * a master answered what its OpenAPI document does not allow (status or JSON body).
 */
export async function request<T = unknown>(method: string, url: string, body?: unknown, options: RequestOptions = {}): Promise<ApiResponse<T>> {
  const res = await send<T>(method, url, body, options);
  const check = await openApiCheckOf(new URL(url).origin);
  const contentType = res.headers.get('content-type') ?? '';
  const isJson = contentType.includes('json') && res.text !== '' && typeof res.body !== 'string';
  const problems = check?.problems({ method, url, status: res.status, contentType, body: res.body, isJson }) ?? [];
  if (problems.length > 0) {
    const shown = res.text.length > 1000 ? `${res.text.slice(0, 1000)}…` : res.text;
    throw new OpenApiDriftError(`${method} ${url} answered what the OpenAPI document does not allow:\n  - ${problems.join('\n  - ')}\n  body: ${shown}`);
  }
  return res;
}

/** The check of each origin that serves an OpenAPI document; null for one that answers something else (a worker's port). */
const openApiChecks = new Map<string, Promise<OpenApiCheck | null | undefined>>();

/** The origin's check; undefined while it cannot be had (no answer, not ready: asked again next time). */
async function openApiCheckOf(origin: string): Promise<OpenApiCheck | null | undefined> {
  let check = openApiChecks.get(origin);
  if (!check) {
    check = send<{ openapi?: unknown; paths?: unknown }>('GET', `${origin}${OPENAPI_PATH}`, undefined, { authorization: null }).then(
      (res) => {
        const document = res.body;
        const isDocument = res.status === 200 && typeof document?.openapi === 'string' && typeof document.paths === 'object';
        if (isDocument) return new OpenApiCheck(document as ConstructorParameters<typeof OpenApiCheck>[0]);
        // A worker's port answers anything but the document: there is nothing to check its answers against.
        return res.status === 503 ? undefined : null;
      },
      () => undefined,
    );
    openApiChecks.set(origin, check);
  }
  const result = await check;
  if (result === undefined) openApiChecks.delete(origin);
  return result;
}

function send<T>(method: string, url: string, body: unknown, options: RequestOptions): Promise<ApiResponse<T>> {
  const headers: Record<string, string | number> = { accept: 'application/json', ...options.headers };
  const authorization = options.authorization === undefined ? ADMIN_AUTHORIZATION : options.authorization;
  if (authorization !== null) headers['authorization'] = authorization;
  let payload: string | undefined;
  if (options.contentType !== undefined) {
    if (typeof body !== 'string') return Promise.reject(new Error(`${method} ${url}: a raw body must be a string`));
    headers['content-type'] = options.contentType;
    payload = body;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  if (payload !== undefined) headers['content-length'] = Buffer.byteLength(payload);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method, agent: false, timeout: REQUEST_TIMEOUT_MS, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('error', (error) => reject(new NoAnswerError(`${method} ${url}: ${error.message}`)));
      res.on('end', () => {
        const answerHeaders = new Headers();
        for (const [name, value] of Object.entries(res.headers)) {
          for (const v of Array.isArray(value) ? value : value === undefined ? [] : [value]) answerHeaders.append(name, v);
        }
        let parsed: unknown = text;
        if ((answerHeaders.get('content-type') ?? '').includes('json') && text !== '') {
          try {
            parsed = JSON.parse(text);
          } catch {
            parsed = text;
          }
        }
        resolve({ status: res.statusCode ?? 0, body: parsed as T, text, headers: answerHeaders });
      });
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (error) => reject(new NoAnswerError(`${method} ${url}: ${error.message}`)));
    req.end(payload);
  });
}

/** Small REST client on `baseUrl` + `/api/v1` (or another prefix). */
export interface Api {
  readonly baseUrl: string;
  get<T = unknown>(path: string): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  delete<T = unknown>(path: string): Promise<ApiResponse<T>>;
}

export function api(baseUrl: string, prefix = '/api/v1'): Api {
  const url = (path: string) => `${baseUrl}${prefix}${path}`;
  return {
    baseUrl,
    get: (path) => request('GET', url(path)),
    post: (path, body, options) => request('POST', url(path), body, options),
    put: (path, body, options) => request('PUT', url(path), body, options),
    delete: (path) => request('DELETE', url(path)),
  };
}

/** A master to talk to: its REST client, or its base URL. */
export type Endpoint = Api | string;

/** The client of an {@link Endpoint}. */
export function clientOf(endpoint: Endpoint): Api {
  return typeof endpoint === 'string' ? api(endpoint) : endpoint;
}

/** Fails with the answer's text unless its status is `status`; answers the body. */
export function expectStatus<T>(response: ApiResponse<T>, status: number, what = ''): T {
  if (response.status !== status) throw new Error(`${what}expected HTTP ${status}, got ${response.status}: ${response.text}`);
  return response.body;
}

/** States a task rests in until someone acts: waiting for another one past them is pointless. */
const RESTING_STATES: readonly ShownTaskState[] = ['EXECUTED', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED', 'DONE'];

/**
 * Polls `GET /tasks/{id}` every 100 ms until `until` holds (a predicate, or a list of states),
 * and answers the task. Fails with the last task view at the deadline; unless `tolerant`, also at
 * once on an answer other than 200, and when waiting for states while the task rests in another
 * state it cannot leave by itself. `tolerant` counts every other answer, or none, as "not yet"
 * (a master whose database is away answers 503; a master being restarted answers nothing).
 */
export async function waitForTask(
  endpoint: Endpoint,
  id: string,
  until: readonly ShownTaskState[] | ((task: TaskView) => boolean),
  timeoutMs = 20_000,
  tolerant = false,
): Promise<TaskView> {
  const client = clientOf(endpoint);
  const wanted = typeof until === 'function' ? undefined : until;
  const matches = typeof until === 'function' ? until : (task: TaskView) => until.includes(task.state);
  let last: ApiResponse<TaskView> | undefined;
  let error: unknown;
  const show = () =>
    error !== undefined
      ? String(error)
      : last === undefined
        ? 'no answer'
        : `HTTP ${last.status}: ${last.status === 200 ? summarize(last.body) : last.text}`;
  const what = wanted ? `state ${wanted.join(' or ')}` : 'the expected condition';
  await pollUntil(
    async () => {
      try {
        last = await client.get<TaskView>(`/tasks/${id}`);
        error = undefined;
      } catch (e) {
        if (!tolerant || e instanceof OpenApiDriftError) throw e;
        error = e;
        return false;
      }
      if (last.status !== 200) {
        if (tolerant) return false;
        throw new Error(`task ${id}: waiting for ${what}, got ${show()}`);
      }
      if (matches(last.body)) return true;
      if (wanted && !tolerant && RESTING_STATES.includes(last.body.state)) {
        throw new Error(`task ${id}: waiting for ${what}, but it rests in ${last.body.state}: ${show()}`);
      }
      return false;
    },
    { timeoutMs, describe: () => `task ${id}: no ${what} within ${timeoutMs} ms; last seen ${show()}` },
  );
  return (last as ApiResponse<TaskView>).body;
}

/** A task view in a few readable lines, for failure messages. */
export function summarize(task: TaskView): string {
  if (!task || !Array.isArray(task.steps)) return JSON.stringify(task);
  const steps = task.steps
    .map((s) => `  ${s.path} ${s.state}${s.pauseBefore ? ' (pause before)' : ''} ${s.description}${s.failure ? ` — ${s.failure}` : ''}`)
    .join('\n');
  return `${task.state} "${task.description}" attempt=${task.attempt} worker=${task.worker} failure=${task.failure ?? '-'}\n${steps}`;
}

/** The step whose description names `deployable` (`Create app-config on local-1`). */
export function stepOf(task: TaskView, deployable: string): StepView {
  const pattern = new RegExp(`(^|\\W)${deployable.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\W|$)`);
  const found = task.steps.filter((s) => pattern.test(s.description));
  if (found.length !== 1) {
    throw new Error(`expected exactly one step for ${deployable}, found ${found.length} in\n${summarize(task)}`);
  }
  return found[0];
}

/** A page of a list endpoint (spec §6): the items and the cursor of the next page, null on the last. */
export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

/** Every item of a paged list endpoint (`GET path`), page after page of 1,000. */
export async function listAll<T>(endpoint: Endpoint, path: string): Promise<T[]> {
  const client = clientOf(endpoint);
  const items: T[] = [];
  let cursor: string | null = null;
  do {
    const separator = path.includes('?') ? '&' : '?';
    const page = `${path}${separator}limit=1000${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
    const body: Page<T> = expectStatus(await client.get<Page<T>>(page), 200, `GET ${client.baseUrl}/api/v1${page}: `);
    items.push(...body.items);
    cursor = body.nextCursor;
  } while (cursor !== null);
  return items;
}
