import { ADMIN_AUTHORIZATION, TEST_ADMIN_PASSWORD } from '../support/credentials';
import { pollUntil } from '../support/poll';
import { request } from '../support/rest-client';

/** The admin password every test master is started with (`SHIPDECK_ADMIN_PASSWORD`). */
export const ADMIN_PASSWORD = TEST_ADMIN_PASSWORD;

/** The admin's credentials, sent with every request. */
export const AUTHORIZATION = ADMIN_AUTHORIZATION;

/** A JSON answer. */
export interface JsonAnswer<T> {
  status: number;
  body: T;
  text: string;
}

/**
 * A JSON call to `baseUrl` + `/api/v1` + `path` with the admin's credentials, through the REST
 * helper of every process-level test: its answer is checked against the OpenAPI document.
 */
export async function call<T = unknown>(baseUrl: string, method: string, path: string, body?: unknown): Promise<JsonAnswer<T>> {
  const res = await request<T>(method, `${baseUrl}/api/v1${path}`, body, { authorization: AUTHORIZATION });
  return { status: res.status, body: res.body, text: res.text };
}

/** A task as `GET /tasks/{id}` answers it, the parts these tests read. */
export interface TaskAnswer {
  id: string;
  state: string;
  steps: { path: string; state: string; description: string; failure: string | null }[];
}

/** Polls a task until it is in one of `states`; fails with its last view at the deadline. */
export async function waitForState(baseUrl: string, id: string, states: string[], timeoutMs = 30_000): Promise<TaskAnswer> {
  let last: JsonAnswer<TaskAnswer> | undefined;
  await pollUntil(
    async () => {
      last = await call<TaskAnswer>(baseUrl, 'GET', `/tasks/${id}`);
      return last.status === 200 && states.includes(last.body.state);
    },
    { timeoutMs, describe: () => `task ${id} not in ${states.join('/')} within ${timeoutMs} ms: ${last?.text ?? 'no answer'}` },
  );
  return (last as JsonAnswer<TaskAnswer>).body;
}
