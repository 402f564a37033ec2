import type { FieldError } from '@shipdeck/errors';
import { messageOf } from './session';

/** Base path of the REST API on a master. */
export const API_PREFIX = '/api/v1';

/** An error answer of the REST API (spec §6), or any other non-2xx answer. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    /** `error.code` of the answer; `HTTP_<status>` when the answer was not in the API's shape. */
    readonly code: string,
    message: string,
    readonly details: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The master could not be reached at all (connection refused, unknown host…). */
export class UnreachableError extends Error {
  constructor(
    readonly server: string,
    /** The network error code, e.g. `ECONNREFUSED`, when known. */
    readonly networkCode: string | undefined,
    readonly reason: string,
  ) {
    super(`cannot reach Shipdeck at ${server}: ${reason}`);
    this.name = 'UnreachableError';
  }
}

/** A request body and how it is written. */
export interface RequestBody {
  text: string;
  contentType: string;
}

/** The answer of a successful request. */
export interface ApiAnswer<T> {
  status: number;
  body: T;
}

/** The body of an event stream, read chunk by chunk. */
export type EventStreamBody = NonNullable<Response['body']>;

/** A thin client of a master's REST API over global fetch. */
export class ApiClient {
  /** The master's URL without a trailing slash, as the user gave it. */
  readonly server: string;

  constructor(
    server: string,
    /** The `Authorization` header sent with every request (`Bearer TOKEN`), if any. */
    private readonly authorization?: string,
  ) {
    this.server = server.replace(/\/+$/, '');
  }

  /** Sends a JSON body (if any) and answers the parsed JSON answer; throws ApiError or UnreachableError. */
  async json<T>(method: string, path: string, body?: unknown): Promise<ApiAnswer<T>> {
    const payload = body === undefined ? undefined : { text: JSON.stringify(body), contentType: 'application/json' };
    return this.send<T>(method, path, payload);
  }

  /**
   * Every item of a paged list (spec §6: `{items, nextCursor}`), following `nextCursor` to the
   * last page. `path` may carry a query of its own.
   */
  async list<T>(path: string): Promise<T[]> {
    const all: T[] = [];
    let cursor: string | null = null;
    do {
      const separator = path.includes('?') ? '&' : '?';
      const page: string = cursor === null ? path : `${path}${separator}cursor=${encodeURIComponent(cursor)}`;
      const { body } = await this.json<{ items?: T[]; nextCursor?: string | null }>('GET', page);
      all.push(...(body?.items ?? []));
      cursor = body?.nextCursor ?? null;
    } while (cursor !== null);
    return all;
  }

  /** Sends a pre-written body, e.g. a YAML manifest. */
  async send<T>(method: string, path: string, body?: RequestBody): Promise<ApiAnswer<T>> {
    const res = await this.fetch(method, path, body, 'application/json');
    const text = await res.text();
    if (!res.ok) throw errorOf(res, text);
    if (text === '') return { status: res.status, body: undefined as T };
    try {
      return { status: res.status, body: JSON.parse(text) as T };
    } catch {
      throw new ApiError(res.status, `HTTP_${res.status}`, `the server answered something that is not JSON: ${firstLine(text)}`);
    }
  }

  /** Answers a text resource, e.g. a step log. */
  async text(path: string): Promise<string> {
    const res = await this.fetch('GET', path, undefined, 'text/plain, application/json');
    const text = await res.text();
    if (!res.ok) throw errorOf(res, text);
    return text;
  }

  /**
   * Opens a Server-Sent Events stream (`GET path`), resuming after `lastEventId` when given, and
   * answers its body; `signal` ends it. Throws ApiError (not a 200 event stream) or UnreachableError.
   */
  async eventStream(path: string, lastEventId: string | undefined, signal: AbortSignal): Promise<EventStreamBody> {
    const extra: Record<string, string> = lastEventId === undefined ? {} : { 'last-event-id': lastEventId };
    const res = await this.fetch('GET', path, undefined, 'text/event-stream', extra, signal);
    if (!res.ok) throw errorOf(res, await res.text());
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
      await res.body?.cancel();
      throw new ApiError(res.status, `HTTP_${res.status}`, `the server answered ${res.headers.get('content-type') ?? 'nothing'}, not an event stream`);
    }
    return res.body;
  }

  private async fetch(
    method: string,
    path: string,
    body: RequestBody | undefined,
    accept: string,
    extra: Record<string, string> = {},
    signal?: AbortSignal,
  ): Promise<Response> {
    const headers: Record<string, string> = { accept, ...extra };
    if (body) headers['content-type'] = body.contentType;
    if (this.authorization) headers['authorization'] = this.authorization;
    try {
      return await fetch(`${this.server}${API_PREFIX}${path}`, { method, headers, body: body?.text, signal });
    } catch (error) {
      throw unreachable(this.server, error);
    }
  }
}

function errorOf(res: Response, text: string): ApiError {
  try {
    const parsed = JSON.parse(text) as { error?: { code?: unknown; message?: unknown; details?: unknown } };
    const e = parsed.error;
    if (e && typeof e.code === 'string' && typeof e.message === 'string') {
      const details = Array.isArray(e.details) ? (e.details as FieldError[]) : [];
      return new ApiError(res.status, e.code, e.message, details);
    }
  } catch {
    // not the API's error shape: described below from the status line
  }
  const reason = text.trim() === '' ? res.statusText : firstLine(text);
  return new ApiError(res.status, `HTTP_${res.status}`, reason || `HTTP ${res.status}`);
}

function firstLine(text: string): string {
  const line = text.trim().split('\n')[0];
  return line.length > 200 ? `${line.slice(0, 200)}…` : line;
}

/** fetch rejects with `TypeError('fetch failed')` whose cause names the network error. */
function unreachable(server: string, error: unknown): UnreachableError {
  const cause = (error as { cause?: unknown } | null)?.cause ?? error;
  const code = networkCode(cause);
  const reason = messageOf(cause) || code || 'network error';
  const hint = code && UNTRUSTED_CERTIFICATE.has(code) ? UNTRUSTED_HINT : '';
  return new UnreachableError(server, code, `${reason}${hint}`);
}

/** TLS errors of a certificate the CLI does not trust (a master's own CA, a self-signed one). */
const UNTRUSTED_CERTIFICATE = new Set([
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
]);
const UNTRUSTED_HINT =
  " (the master's certificate is not signed by a CA this machine trusts: run the CLI with NODE_EXTRA_CA_CERTS=/path/to/ca.pem)";

function networkCode(cause: unknown): string | undefined {
  const c = cause as { code?: unknown; errors?: unknown } | null;
  if (typeof c?.code === 'string') return c.code;
  // Several addresses (::1 and 127.0.0.1 for localhost) fail together as an AggregateError.
  if (Array.isArray(c?.errors)) return c.errors.map(networkCode).find((x) => x !== undefined);
  return undefined;
}
