/**
 * HTTP helpers of the security tests: requests with exactly the credentials a test chooses
 * (a header, a cookie, none), and users, tokens and sessions created through the REST API of a
 * real master.
 */
import { randomBytes } from 'node:crypto';
import type { AuditEntry } from '@shipdeck/auth';
import { ADMIN_AUTHORIZATION } from '../support/credentials';
import { pollUntil } from '../support/poll';
import { expectStatus, request } from '../support/rest-client';

/** What {@link send} answers. */
export interface Answer<T = unknown> {
  status: number;
  body: T;
  text: string;
  headers: Headers;
}

/** How a request of {@link send} presents itself. */
export interface SendOptions {
  /** The `Authorization` header; none when omitted. */
  authorization?: string;
  /** The `Cookie` header; none when omitted. */
  cookie?: string;
  /** The body as is (a string), with this Content-Type, or without one when `contentType` is null. */
  raw?: { text: string; contentType: string | null };
  /** A JSON body. */
  json?: unknown;
  /** More headers, e.g. `X-Forwarded-For`. */
  headers?: Record<string, string>;
}

/** One request to `baseUrl + path` with only the credentials in `options`. */
export async function send<T = unknown>(baseUrl: string, method: string, path: string, options: SendOptions = {}): Promise<Answer<T>> {
  const headers: Record<string, string> = { accept: 'application/json', ...options.headers };
  if (options.authorization !== undefined) headers['authorization'] = options.authorization;
  if (options.cookie !== undefined) headers['cookie'] = options.cookie;
  let body: string | undefined;
  if (options.raw) {
    if (options.raw.contentType !== null) headers['content-type'] = options.raw.contentType;
    body = options.raw.text;
  } else if (options.json !== undefined) {
    headers['content-type'] = 'application/json';
    body = JSON.stringify(options.json);
  }
  const res = await fetch(`${baseUrl}${path}`, { method, headers, body, signal: AbortSignal.timeout(20_000) });
  const text = await res.text();
  let parsed: unknown = text;
  if ((res.headers.get('content-type') ?? '').includes('json') && text !== '') parsed = JSON.parse(text);
  return { status: res.status, body: parsed as T, text, headers: res.headers };
}

/** `Authorization: Basic …` of a user name and password. */
export function basic(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}

/** `Authorization: Bearer …` of an API token. */
export function bearer(token: string): string {
  return `Bearer ${token}`;
}

/** A user created by {@link createUser}. */
export interface TestUser {
  name: string;
  password: string;
}

/** Creates a user through `POST /api/v1/users` as the test admin; answers its name and password. */
export async function createUser(baseUrl: string, name: string, role: 'viewer' | 'deployer' | 'admin', environments?: string[]): Promise<TestUser> {
  const password = `pw-${randomBytes(12).toString('hex')}`;
  const body = { name, password, role, ...(environments ? { environments } : {}) };
  expectStatus(await request('POST', `${baseUrl}/api/v1/users`, body, { authorization: ADMIN_AUTHORIZATION }), 201, `POST /users ${name}: `);
  return { name, password };
}

/** A token created by {@link createToken}. */
export interface TestToken {
  id: string;
  token: string;
}

/** Creates an API token through `POST /api/v1/tokens` with the user's basic credentials. */
export async function createToken(baseUrl: string, user: TestUser, name = 'test'): Promise<TestToken> {
  const answer = await send<{ id: string; token: string }>(baseUrl, 'POST', '/api/v1/tokens', {
    authorization: basic(user.name, user.password),
    json: { name },
  });
  expect(answer.status).toBe(201);
  return { id: answer.body.id, token: answer.body.token };
}

/** Logs in through `POST /api/v1/auth/login`; answers the `Cookie` header value of the session. */
export async function login(baseUrl: string, user: TestUser): Promise<string> {
  const answer = await send(baseUrl, 'POST', '/api/v1/auth/login', { json: { username: user.name, password: user.password } });
  expect(answer.status).toBe(200);
  const setCookie = answer.headers.get('set-cookie') ?? '';
  expect(setCookie).toMatch(/HttpOnly/);
  expect(setCookie).toMatch(/SameSite=Strict/);
  const pair = setCookie.split(';')[0];
  expect(pair).toMatch(/^shipdeck_session=.+/);
  return pair;
}

/** One page of `GET /api/v1/audit`. */
export interface AuditPage {
  items: AuditEntry[];
  nextCursor: string | null;
}

/** Every audit entry, read page by page (`limit` per page) as the test admin, newest first. */
export async function readAudit(baseUrl: string, limit: number, filter = ''): Promise<{ entries: AuditEntry[]; pages: number }> {
  const entries: AuditEntry[] = [];
  let cursor: string | null = null;
  let pages = 0;
  do {
    const query: string = `?limit=${limit}${cursor ? `&cursor=${cursor}` : ''}${filter}`;
    const answer = await send<AuditPage>(baseUrl, 'GET', `/api/v1/audit${query}`, { authorization: ADMIN_AUTHORIZATION });
    if (answer.status !== 200) throw new Error(`GET /audit${query}: HTTP ${answer.status} ${answer.text}`);
    expect(answer.body.items.length).toBeLessThanOrEqual(limit);
    entries.push(...answer.body.items);
    cursor = answer.body.nextCursor;
    pages++;
  } while (cursor !== null);
  return { entries, pages };
}

/**
 * Waits until an audit entry matching `matches` is there (the trail is written when the answer
 * has been sent, so just after the request it may not be yet), and answers it.
 */
export async function waitForAuditEntry(baseUrl: string, what: string, matches: (entry: AuditEntry) => boolean): Promise<AuditEntry> {
  let found: AuditEntry | undefined;
  let seen: AuditEntry[] = [];
  await pollUntil(
    async () => {
      seen = (await readAudit(baseUrl, 1000)).entries;
      found = seen.find(matches);
      return found !== undefined;
    },
    { timeoutMs: 10_000, describe: () => `no audit entry for ${what}; the newest are:\n${JSON.stringify(seen.slice(0, 10), null, 2)}` },
  );
  return found as AuditEntry;
}
