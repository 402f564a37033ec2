import { ADMIN_AUTHORIZATION } from '../../test/support/credentials';

/**
 * The slice of the REST contract (spec §6) the bench uses, declared here rather than imported:
 * the bench drives the wire like any client would.
 */
export interface TaskWire {
  id: string;
  type: 'DEPLOYMENT' | 'CONTROL';
  state: string;
  worker: string | null;
  attempt: number;
  failure: string | null;
  createdAt: string;
  queuedAt: string | null;
  claimedAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
}

/** A non-2xx answer or a failed request, naming the call and what came back. */
export class RestError extends Error {
  constructor(
    readonly call: string,
    readonly status: number | null,
    detail: string,
  ) {
    super(`${call}: ${status === null ? '' : `HTTP ${status} `}${detail}`);
  }
}

/** One JSON request to `base` + `/api/v1` + `path`; a non-2xx answer throws a {@link RestError}. */
export async function call<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const what = `${method} ${base}/api/v1${path}`;
  let response: Response;
  try {
    response = await fetch(`${base}/api/v1${path}`, {
      method,
      headers: {
        accept: 'application/json',
        authorization: ADMIN_AUTHORIZATION,
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (error) {
    const cause = (error as { cause?: unknown }).cause;
    throw new RestError(what, null, String(cause ?? error));
  }
  const text = await response.text();
  if (!response.ok) throw new RestError(what, response.status, text.slice(0, 500));
  return (text === '' ? undefined : JSON.parse(text)) as T;
}
