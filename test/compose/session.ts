/*
 * The compose test's HTTP client side (test/compose/scenario.ts): a cookie-keeping REST session
 * through HAProxy or on one master, and polling with a deadline.
 */
import { pollUntil } from '../support/poll';

/** The master's session cookie (libs/auth). */
const SESSION_COOKIE = 'shipdeck_session';

export function check(condition: boolean, message: string): asserts condition {
  if (!condition) throw new Error(`check failed: ${message}`);
}

// ---- REST through HAProxy

export interface Answer<T> {
  status: number;
  body: T;
  text: string;
}

/**
 * A client session on one base URL. It keeps the cookies it is given, as a browser does: HAProxy's
 * sticky-session cookie and the session cookie of `POST /api/v1/auth/login`, which every later
 * call carries. Sessions are stored in the database, so {@link at} reuses the jar on one master
 * reached directly.
 */
export class Session {
  constructor(
    readonly baseUrl: string,
    private readonly cookies = new Map<string, string>(),
  ) {}

  /** The same cookie jar on another base URL. */
  at(baseUrl: string): Session {
    return new Session(baseUrl, this.cookies);
  }

  /** Logs in (`POST /api/v1/auth/login`); the session cookie goes into the jar. */
  async login(username: string, password: string): Promise<void> {
    await this.expect(200, 'POST', '/api/v1/auth/login', { username, password });
    check(this.cookie(SESSION_COOKIE) !== undefined, `the login set the ${SESSION_COOKIE} cookie`);
  }

  cookie(name: string): string | undefined {
    return this.cookies.get(name);
  }

  async call<T = unknown>(method: string, path: string, body?: unknown, contentType?: string): Promise<Answer<T>> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.cookies.size > 0) headers.cookie = [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ');
    let payload: string | undefined;
    if (contentType !== undefined) {
      headers['content-type'] = contentType;
      payload = body as string;
    } else if (body !== undefined) {
      headers['content-type'] = 'application/json';
      payload = JSON.stringify(body);
    } else if (method !== 'GET') {
      // A state-changing request authenticated by the session cookie must say it is JSON, even
      // without a body: masters refuse (403) what a cross-site form could have sent.
      headers['content-type'] = 'application/json';
    }
    const response = await fetch(`${this.baseUrl}${path}`, { method, headers, body: payload, signal: AbortSignal.timeout(15_000) });
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';');
      const at = pair.indexOf('=');
      if (at > 0) this.cookies.set(pair.slice(0, at).trim(), pair.slice(at + 1).trim());
    }
    const text = await response.text();
    let parsed: unknown = text;
    if ((response.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
    return { status: response.status, body: parsed as T, text };
  }

  /** Calls and insists on `status`; answers the body. */
  async expect<T = unknown>(status: number, method: string, path: string, body?: unknown, contentType?: string): Promise<T> {
    const answer = await this.call<T>(method, path, body, contentType);
    if (answer.status !== status) throw new Error(`${method} ${path}: expected ${status}, got ${answer.status} ${answer.text}`);
    return answer.body;
  }
}

/** Polls until `check` answers a value (not undefined); fails with `describe()` at the deadline. */
export async function waitFor<T>(what: string, timeoutMs: number, check: () => Promise<T | undefined>, describe: () => string = () => ''): Promise<T> {
  let value: T | undefined;
  let lastError = '';
  await pollUntil(
    async () => {
      try {
        value = await check();
        return value !== undefined;
      } catch (error) {
        // A connection refused while a container (re)starts is a "not yet", like a wrong answer.
        lastError = (error as Error).message;
        return false;
      }
    },
    { timeoutMs, intervalMs: 200, describe: () => `timed out after ${timeoutMs} ms waiting for ${what}. ${describe()} ${lastError}` },
  );
  return value as T;
}
