import { pollUntil } from './poll';

/*
 * The REST contract as the end-to-end tests see it (spec §2, §6). Declared here rather than
 * imported from the libraries: these tests check the wire, not the code that produces it.
 */

export type TaskState =
  | 'PENDING'
  | 'SCHEDULED'
  | 'QUEUED'
  | 'EXECUTING'
  | 'EXECUTED'
  | 'STOPPING'
  | 'STOPPED'
  | 'FAILING'
  | 'FAILED'
  | 'ABORTING'
  | 'ABORTED'
  | 'CANCELLING'
  | 'CANCELLED'
  | 'DONE'
  | 'UNKNOWN';

export type StepState = 'PENDING' | 'EXECUTING' | 'PAUSED' | 'FAILED' | 'DONE' | 'SKIPPED';

export interface StepWire {
  path: string;
  description: string;
  state: StepState;
  order: number;
  host: string;
  ciType?: string;
  operation?: string;
  pauseBefore?: boolean;
  failure?: string | null;
}

export interface TaskWire {
  id: string;
  type: 'DEPLOYMENT' | 'CONTROL';
  description: string;
  state: TaskState;
  worker: string | null;
  attempt?: number;
  failure?: string | null;
  plan: {
    phases: {
      path: string;
      state: StepState;
      blocks: { path: string; state: StepState; parallel: boolean; steps: StepWire[] }[];
    }[];
  };
  steps: StepWire[];
}

export interface ErrorWire {
  error: { code: string; message: string; details: { field: string; message: string }[] };
}

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
}

/** Small REST client on `baseUrl` + `/api/v1` (or another prefix). */
export interface Api {
  get<T = unknown>(path: string): Promise<ApiResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  put<T = unknown>(path: string, body?: unknown, options?: RequestOptions): Promise<ApiResponse<T>>;
  delete<T = unknown>(path: string): Promise<ApiResponse<T>>;
}

export function api(baseUrl: string, prefix = '/api/v1'): Api {
  const call = async <T>(method: string, path: string, body?: unknown, options: RequestOptions = {}) => {
    const headers: Record<string, string> = { accept: 'application/json' };
    let payload: string | undefined;
    if (options.contentType !== undefined) {
      if (typeof body !== 'string') throw new Error(`${method} ${path}: a raw body must be a string`);
      headers['content-type'] = options.contentType;
      payload = body;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    }
    const response = await fetch(`${baseUrl}${prefix}${path}`, { method, headers, body: payload });
    const text = await response.text();
    const isJson = (response.headers.get('content-type') ?? '').includes('json');
    let parsed: unknown = text;
    if (isJson && text !== '') {
      try {
        parsed = JSON.parse(text);
      } catch {
        parsed = text;
      }
    }
    return { status: response.status, body: parsed as T, text, headers: response.headers };
  };
  return {
    get: (path) => call('GET', path),
    post: (path, body, options) => call('POST', path, body, options),
    put: (path, body, options) => call('PUT', path, body, options),
    delete: (path) => call('DELETE', path),
  };
}

/** States a task rests in until someone acts: waiting for another one past them is pointless. */
const RESTING_STATES: readonly TaskState[] = ['EXECUTED', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED', 'DONE'];

/**
 * Polls `GET /api/v1/tasks/{id}` every 100 ms until `until` holds (a predicate, or a list of
 * states), and answers the task. Fails with the last task view at the deadline, and at once when
 * waiting for states and the task rests in another state it cannot leave by itself.
 */
export async function waitForTask(
  baseUrl: string,
  id: string,
  until: TaskState[] | ((task: TaskWire) => boolean),
  timeoutMs = 20_000,
): Promise<TaskWire> {
  const client = api(baseUrl);
  const wanted = typeof until === 'function' ? undefined : until;
  const matches = typeof until === 'function' ? until : (task: TaskWire) => until.includes(task.state);
  let last: ApiResponse<TaskWire> | undefined;
  const show = () =>
    last === undefined ? 'no answer' : `HTTP ${last.status}: ${typeof last.body === 'string' ? last.body : summarize(last.body)}`;
  const what = wanted ? `state ${wanted.join(' or ')}` : 'the expected condition';
  await pollUntil(
    async () => {
      last = await client.get<TaskWire>(`/tasks/${id}`);
      if (last.status !== 200) throw new Error(`task ${id}: waiting for ${what}, got ${show()}`);
      if (matches(last.body)) return true;
      if (wanted && RESTING_STATES.includes(last.body.state)) {
        throw new Error(`task ${id}: waiting for ${what}, but it rests in ${last.body.state}: ${show()}`);
      }
      return false;
    },
    { timeoutMs, describe: () => `task ${id}: no ${what} within ${timeoutMs} ms; last seen ${show()}` },
  );
  return (last as ApiResponse<TaskWire>).body;
}

/** A task view in a few readable lines, for failure messages. */
export function summarize(task: TaskWire): string {
  if (!task || !Array.isArray(task.steps)) return JSON.stringify(task);
  const steps = task.steps
    .map((s) => `  ${s.path} ${s.state}${s.pauseBefore ? ' (pause before)' : ''} ${s.description}${s.failure ? ` — ${s.failure}` : ''}`)
    .join('\n');
  return `${task.state} "${task.description}" attempt=${task.attempt} worker=${task.worker} failure=${task.failure ?? '-'}\n${steps}`;
}

/** The step whose description names `deployable` (`Create app-config on local-1`). */
export function stepOf(task: TaskWire, deployable: string): StepWire {
  const pattern = new RegExp(`(^|\\W)${deployable.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\W|$)`);
  const found = task.steps.filter((s) => pattern.test(s.description));
  if (found.length !== 1) {
    throw new Error(`expected exactly one step for ${deployable}, found ${found.length} in\n${summarize(task)}`);
  }
  return found[0];
}
