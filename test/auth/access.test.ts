/**
 * Who may do what, on a real `shipdeck master` process (the embedded default: SQLite, in-process
 * worker): every route of ROUTE_POLICIES without credentials, as a viewer, a deployer narrowed to
 * `dev` and an admin (generated from the table, so a new route is covered the day it gets its
 * rule); per-environment deploy permission; the cross-site guard for cookie sessions; the audit
 * trail of these requests, read page by page; login rate limiting.
 */
import { ROLE_PERMISSIONS, type AuditEntry, type Permission } from '@shipdeck/auth';
import { ROUTE_POLICIES } from '@shipdeck/rest-api';
import type { TaskActors, TaskView } from '@shipdeck/tasks';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { importCommands, localEnvironments } from '../support/rest-actions';
import { pollUntil } from '../support/poll';
import { type Page, api, waitForTask } from '../support/rest-client';
import { Answer, TestToken, TestUser, basic, bearer, createToken, createUser, login, readAudit, send, waitForAuditEntry } from './support';

const TEST_TIMEOUT_MS = 60_000;

type Role = 'viewer' | 'deployer' | 'admin';

let master: StandaloneMaster | undefined;
let url: string;
const users: Partial<Record<Role, TestUser>> = {};
const tokens: Partial<Record<Role, TestToken>> = {};

const test = (name: string, body: () => Promise<void>) => it(name, withOutputOf(() => [master], body), TEST_TIMEOUT_MS);

beforeAll(async () => {
  master = await startMaster();
  url = master.url;
  users.viewer = await createUser(url, 'vera', 'viewer');
  users.deployer = await createUser(url, 'dora', 'deployer', ['dev']);
  users.admin = await createUser(url, 'ada', 'admin');
  for (const role of ['viewer', 'deployer', 'admin'] as const) tokens[role] = await createToken(url, users[role]!, `${role}-token`);
  const admin = api(url);
  await localEnvironments(admin, 'local-1', ['dev', 'prod']);
  await importCommands(admin, 'hello', [['say-hello', 'true']]);
  // A step that runs until it is aborted.
  await importCommands(admin, 'waiter', [['wait', 'sleep 120']]);
}, TEST_TIMEOUT_MS);

afterAll(async () => {
  await cleanupAllMasters();
});

/** A request for a route of ROUTE_POLICIES: path parameters filled in, a JSON body for methods that take one. */
function callRoute(key: string, authorization?: string): Promise<Answer> {
  const [method, pattern] = key.split(' ') as [string, string];
  const path = pattern.replace(':path', '1-1-1').replace(/:[a-z]+/g, 'no-such-object');
  // Health routes are mounted under /health, every other one under the API's base path.
  const base = pattern === '/live' || pattern === '/ready' ? '/health' : '/api/v1';
  const json = method === 'POST' || method === 'PUT' ? {} : undefined;
  return send(url, method, base + path, { authorization, json });
}

const routes = Object.entries(ROUTE_POLICIES);
const publicRoutes = routes.filter(([, policy]) => policy.permission === 'public').map(([key]) => key);
const protectedRoutes = routes.filter(([, policy]) => policy.permission !== 'public') as [string, { permission: Permission }][];

function expectErrorShape(answer: Answer, status: number, code: string): void {
  expect({ status: answer.status, text: answer.text }).toEqual({ status, text: expect.any(String) });
  expect(answer.body).toEqual({ error: { code, message: expect.any(String), details: [] } });
}

describe('every route of ROUTE_POLICIES', () => {
  test('is covered: the table has protected routes of every kind and public ones', async () => {
    expect(protectedRoutes.length).toBeGreaterThan(30);
    expect(publicRoutes.sort()).toEqual(['GET /live', 'GET /metrics', 'GET /openapi.json', 'GET /ready', 'POST /auth/login', 'POST /auth/logout']);
  });

  it.each(protectedRoutes.map(([key]) => key))(
    '%s answers 401 UNAUTHENTICATED without credentials',
    async (key) => {
      const answer = await callRoute(key);
      expectErrorShape(answer, 401, 'UNAUTHENTICATED');
      expect(answer.headers.get('www-authenticate')).toMatch(/^Bearer/);
    },
    TEST_TIMEOUT_MS,
  );

  it.each(protectedRoutes.map(([key]) => key))(
    '%s answers 401 with an unknown token',
    async (key) => {
      // (Wrong passwords are rate-limited per address, so they are tried on one route only, below.)
      expectErrorShape(await callRoute(key, bearer(`${tokens.viewer!.token}x`)), 401, 'UNAUTHENTICATED');
    },
    TEST_TIMEOUT_MS,
  );

  it('answers 401 to a wrong password', async () => {
    expectErrorShape(await callRoute('GET /hosts', basic(users.viewer!.name, 'not-the-password')), 401, 'UNAUTHENTICATED');
  });

  it('health stays open without credentials', async () => {
    expect((await send(url, 'GET', '/health/live')).status).toBe(200);
    expect((await send(url, 'GET', '/health/ready')).status).toBe(200);
  });

  describe.each(['viewer', 'deployer', 'admin'] as const)('with a %s token', (role) => {
    it.each(protectedRoutes)(
      '%s answers 403 FORBIDDEN exactly when the role lacks the permission',
      async (key, policy) => {
        const answer = await callRoute(key, bearer(tokens[role]!.token));
        if (ROLE_PERMISSIONS[role].has(policy.permission)) {
          // Held: the request reaches the route, which may still answer 400 or 404 for the made-up ids.
          if (answer.status === 401 || answer.status === 403) throw new Error(`${key} as ${role}: HTTP ${answer.status} ${answer.text}`);
        } else {
          expectErrorShape(answer, 403, 'FORBIDDEN');
        }
      },
      TEST_TIMEOUT_MS,
    );
  });

  it('a viewer is refused every state-changing route but its own tokens', () => {
    // The table itself, checked against the rule: viewers read, they change nothing but their tokens.
    const viewerMayChange = protectedRoutes
      .filter(([key]) => !key.startsWith('GET '))
      .filter(([, policy]) => ROLE_PERMISSIONS.viewer.has(policy.permission))
      .map(([key]) => key)
      .sort();
    expect(viewerMayChange).toEqual(['DELETE /tokens/:id', 'POST /deployments/preview', 'POST /tokens']);
  });
});

describe('per-environment deploy permission', () => {
  const deployment = (environment: string) => ({ application: 'hello', version: '1.0.0', environment });

  test('a deployer limited to dev may deploy to dev and operate its tasks, not prod', async () => {
    const dora = bearer(tokens.deployer!.token);
    const refused = await send(url, 'POST', '/api/v1/deployments', { authorization: dora, json: deployment('prod') });
    expectErrorShape(refused, 403, 'FORBIDDEN');
    expect((refused.body as { error: { message: string } }).error.message).toMatch(/dev.*not prod/);

    const accepted = await send<{ taskId: string }>(url, 'POST', '/api/v1/deployments', { authorization: dora, json: deployment('dev') });
    expect(accepted.status).toBe(201);
    const cancelled = await send<TaskView>(url, 'POST', `/api/v1/tasks/${accepted.body.taskId}/cancel`, { authorization: dora });
    expect({ status: cancelled.status, text: cancelled.text }).toEqual({ status: 200, text: expect.any(String) });

    // A prod task created by an admin: the deployer may read it, not operate it.
    const prodTask = await send<{ taskId: string }>(url, 'POST', '/api/v1/deployments', {
      authorization: bearer(tokens.admin!.token),
      json: deployment('prod'),
    });
    expect(prodTask.status).toBe(201);
    const id = prodTask.body.taskId;
    expect((await send(url, 'GET', `/api/v1/tasks/${id}`, { authorization: dora })).status).toBe(200);
    for (const operation of ['start', 'cancel', 'archive', 'stop', 'abort']) {
      expectErrorShape(await send(url, 'POST', `/api/v1/tasks/${id}/${operation}`, { authorization: dora }), 403, 'FORBIDDEN');
    }
    expectErrorShape(await send(url, 'DELETE', `/api/v1/tasks/${id}`, { authorization: dora }), 403, 'FORBIDDEN');
    // The task was left as it was.
    const task = await send<TaskView>(url, 'GET', `/api/v1/tasks/${id}`, { authorization: bearer(tokens.admin!.token) });
    expect(task.body.state).toBe('PENDING');
    // Only one unfinished deployment per application and environment: the admin cancels it so
    // that the next case can deploy hello to prod.
    const cancelledByAdmin = await send<TaskView>(url, 'POST', `/api/v1/tasks/${id}/cancel`, { authorization: bearer(tokens.admin!.token) });
    expect({ status: cancelledByAdmin.status, text: cancelledByAdmin.text }).toEqual({ status: 200, text: expect.any(String) });
  });

  test('an unlimited deployer may deploy anywhere, a viewer nowhere', async () => {
    const dan = await createUser(url, 'dan', 'deployer');
    const dans = await createToken(url, dan);
    expect((await send(url, 'POST', '/api/v1/deployments', { authorization: bearer(dans.token), json: deployment('prod') })).status).toBe(201);
    const viewer = await send(url, 'POST', '/api/v1/deployments', { authorization: bearer(tokens.viewer!.token), json: deployment('dev') });
    expectErrorShape(viewer, 403, 'FORBIDDEN');
  });
});

describe('who acted on a task', () => {
  /** Polls the task view until its actors match (audit entries are written once the answer has been sent). */
  async function waitForActors(id: string, expected: Record<keyof TaskActors, string | null>): Promise<TaskActors> {
    let actors: TaskActors | undefined;
    const users = (a: TaskActors) => Object.fromEntries(Object.entries(a).map(([k, v]) => [k, v?.user ?? null]));
    await pollUntil(
      async () => {
        const answer = await send<TaskView>(url, 'GET', `/api/v1/tasks/${id}`, { authorization: bearer(tokens.viewer!.token) });
        expect(answer.status).toBe(200);
        actors = answer.body.actors;
        return actors !== undefined && JSON.stringify(users(actors)) === JSON.stringify(expected);
      },
      { timeoutMs: 10_000, describe: () => `task ${id}: actors ${JSON.stringify(actors)}, expected users ${JSON.stringify(expected)}` },
    );
    return actors!;
  }

  test('the task view shows who created, started, aborted and archived a task', async () => {
    const dora = bearer(tokens.deployer!.token);
    const ada = bearer(tokens.admin!.token);
    const created = await send<{ taskId: string }>(url, 'POST', '/api/v1/deployments', {
      authorization: dora,
      json: { application: 'hello', version: '1.0.0', environment: 'dev' },
    });
    expect(created.status).toBe(201);
    const id = created.body.taskId;
    await waitForActors(id, { createdBy: 'dora', startedBy: null, stoppedBy: null, cancelledBy: null, archivedBy: null });
    expect((await send(url, 'POST', `/api/v1/tasks/${id}/start`, { authorization: dora, json: {} })).status).toBe(200);
    await waitForTask(url, id, ['EXECUTED']);
    expect((await send(url, 'POST', `/api/v1/tasks/${id}/archive`, { authorization: ada, json: {} })).status).toBe(200);
    const actors = await waitForActors(id, { createdBy: 'dora', startedBy: 'dora', stoppedBy: null, cancelledBy: null, archivedBy: 'ada' });
    expect(Date.parse(actors.createdBy!.at)).toBeLessThanOrEqual(Date.parse(actors.startedBy!.at));
    expect(Date.parse(actors.startedBy!.at)).toBeLessThanOrEqual(Date.parse(actors.archivedBy!.at));

    // Aborted while executing, by the deployer; a refused operation does not count.
    const waiting = await send<{ taskId: string }>(url, 'POST', '/api/v1/deployments', {
      authorization: ada,
      json: { application: 'waiter', version: '1.0.0', environment: 'dev' },
    });
    const waiter = waiting.body.taskId;
    expect((await send(url, 'POST', `/api/v1/tasks/${waiter}/start`, { authorization: ada, json: {} })).status).toBe(200);
    await waitForTask(url, waiter, ['EXECUTING']);
    expect((await send(url, 'POST', `/api/v1/tasks/${waiter}/abort`, { authorization: bearer(tokens.viewer!.token), json: {} })).status).toBe(403);
    expect((await send(url, 'POST', `/api/v1/tasks/${waiter}/abort`, { authorization: dora, json: {} })).status).toBe(200);
    await waitForTask(url, waiter, ['ABORTED']);
    await waitForActors(waiter, { createdBy: 'ada', startedBy: 'ada', stoppedBy: 'dora', cancelledBy: null, archivedBy: null });
  });
});

describe('the cross-site guard of cookie sessions', () => {
  test('refuses a text/plain, form or body-less POST with the session cookie, accepts JSON', async () => {
    const cookie = await login(url, users.admin!);
    const forged = await send(url, 'PUT', '/api/v1/hosts/forged', { cookie, raw: { text: '{"type":"local"}', contentType: 'text/plain' } });
    expectErrorShape(forged, 403, 'FORBIDDEN');
    expect((forged.body as { error: { message: string } }).error.message).toMatch(/application\/json/);
    const form = await send(url, 'PUT', '/api/v1/hosts/forged', { cookie, raw: { text: 'type=local', contentType: 'application/x-www-form-urlencoded' } });
    expectErrorShape(form, 403, 'FORBIDDEN');
    const plainPost = await send(url, 'POST', '/api/v1/tokens', { cookie, raw: { text: '{"name":"forged"}', contentType: 'text/plain' } });
    expectErrorShape(plainPost, 403, 'FORBIDDEN');
    const bodiless = await send(url, 'POST', '/api/v1/workers/restore-ghost-tasks', { cookie, raw: { text: '', contentType: null } });
    expectErrorShape(bodiless, 403, 'FORBIDDEN');
    // Nothing was created by the refused requests.
    expect((await send(url, 'GET', '/api/v1/hosts/forged', { cookie })).status).toBe(404);

    // One page of up to 1,000 tokens holds them all (nextCursor null), so the check sees every token.
    const listed = await send<Page<{ name: string }>>(url, 'GET', '/api/v1/tokens?limit=1000', { cookie });
    expect({ status: listed.status, nextCursor: listed.body.nextCursor }).toEqual({ status: 200, nextCursor: null });
    expect(listed.body.items.map((t) => t.name)).not.toContain('forged');
    const jsonPost = await send(url, 'POST', '/api/v1/tokens', { cookie, json: { name: 'from-browser' } });
    expect(jsonPost.status).toBe(201);
    const json = await send(url, 'PUT', '/api/v1/hosts/from-browser', { cookie, json: { type: 'local' } });
    expect({ status: json.status, text: json.text }).toEqual({ status: 201, text: expect.any(String) });
    // Reads need no content type; a header credential is not a cookie and cannot be forged cross-site.
    expect((await send(url, 'GET', '/api/v1/hosts/from-browser', { cookie })).status).toBe(200);
    const scripted = await send(url, 'POST', '/api/v1/workers/restore-ghost-tasks', { authorization: bearer(tokens.admin!.token) });
    expect([401, 403]).not.toContain(scripted.status);
  });

  test('logout ends the session', async () => {
    const cookie = await login(url, users.viewer!);
    expect((await send(url, 'GET', '/api/v1/hosts', { cookie })).status).toBe(200);
    const out = await send(url, 'POST', '/api/v1/auth/logout', { cookie });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^shipdeck_session=; Max-Age=0/);
    expectErrorShape(await send(url, 'GET', '/api/v1/hosts', { cookie }), 401, 'UNAUTHENTICATED');
  });
});

describe('the audit trail', () => {
  test('records state-changing requests (who, what, outcome, from where), readable page by page', async () => {
    const dora = bearer(tokens.deployer!.token);
    const marker = `audited-${Date.now()}`;
    expect((await send(url, 'PUT', `/api/v1/hosts/${marker}`, { authorization: bearer(tokens.admin!.token), json: { type: 'local' } })).status).toBe(201);
    expect((await send(url, 'DELETE', `/api/v1/hosts/${marker}`, { authorization: dora })).status).toBe(403);
    expect((await send(url, 'DELETE', `/api/v1/hosts/${marker}`)).status).toBe(401);
    // A read is not audited.
    expect((await send(url, 'GET', `/api/v1/hosts/${marker}`, { authorization: dora })).status).toBe(200);

    const ofMarker = (entry: AuditEntry) => entry.objectIds['name'] === marker || entry.action.endsWith(`/hosts/${marker}`);
    const created = await waitForAuditEntry(url, `PUT /hosts/${marker}`, (e) => ofMarker(e) && e.action.startsWith('PUT '));
    expect(created).toMatchObject({
      username: 'ada',
      userId: expect.any(String),
      tokenId: tokens.admin!.id,
      action: 'PUT /api/v1/hosts/:name',
      objectIds: { name: marker },
      outcome: 'succeeded',
      status: 201,
      sourceIp: expect.stringMatching(/127\.0\.0\.1/),
    });
    const denied = await waitForAuditEntry(url, `DELETE /hosts/${marker} by dora`, (e) => ofMarker(e) && e.username === 'dora');
    expect(denied).toMatchObject({ action: 'DELETE /api/v1/hosts/:name', outcome: 'denied', status: 403, detail: 'FORBIDDEN', tokenId: tokens.deployer!.id });
    const anonymous = await waitForAuditEntry(url, `DELETE /hosts/${marker} without credentials`, (e) => ofMarker(e) && e.status === 401);
    expect(anonymous).toMatchObject({ username: null, userId: null, outcome: 'denied', detail: 'UNAUTHENTICATED' });

    const all = await readAudit(url, 1000);
    expect(all.pages).toBe(1);
    expect(all.entries.filter((e) => ofMarker(e)).map((e) => e.action.split(' ')[0])).toEqual(['DELETE', 'DELETE', 'PUT']);
    expect(all.entries.every((e) => e.action !== `GET /api/v1/hosts/:name`)).toBe(true);

    // Page by page, 3 at a time: the same entries, newest first, none twice.
    const paged = await readAudit(url, 3);
    expect(paged.pages).toBeGreaterThan(2);
    const seqs = paged.entries.map((e) => e.seq);
    expect([...seqs].sort((a, b) => b - a)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(seqs.length);
    expect(paged.entries.filter((e) => e.seq <= all.entries[0]!.seq).map((e) => e.seq)).toEqual(all.entries.map((e) => e.seq));

    // Filters, and only admins read the trail.
    const doras = await readAudit(url, 1000, '&user=dora&outcome=denied');
    expect(doras.entries.length).toBeGreaterThan(0);
    expect(doras.entries.every((e) => e.username === 'dora' && e.outcome === 'denied')).toBe(true);
    expectErrorShape(await send(url, 'GET', '/api/v1/audit', { authorization: dora }), 403, 'FORBIDDEN');
  });
});

describe('login rate limiting', () => {
  test('answers 429 with Retry-After after repeated failures, and never logs the password', async () => {
    const victim = await createUser(url, 'rita', 'viewer');
    const wrong = 'wrong-password-7f3a91';
    const attempt = (password: string) => send(url, 'POST', '/api/v1/auth/login', { json: { username: victim.name, password } });
    const statuses: number[] = [];
    let limited: Answer | undefined;
    for (let i = 0; i < 20 && !limited; i++) {
      const answer = await attempt(wrong);
      statuses.push(answer.status);
      if (answer.status === 429) limited = answer;
    }
    expect(limited).toBeDefined();
    // A few tries are allowed before the limit: a user who mistypes is not locked out at once.
    expect(statuses.slice(0, -1).every((s) => s === 401)).toBe(true);
    expect(statuses.length).toBeGreaterThan(2);
    expectErrorShape(limited!, 429, 'TOO_MANY_ATTEMPTS');
    expect(Number(limited!.headers.get('retry-after'))).toBeGreaterThan(0);
    // The right password is refused too while limited, and HTTP basic is limited the same way.
    expect((await attempt(victim.password)).status).toBe(429);
    expect((await send(url, 'GET', '/api/v1/hosts', { authorization: basic(victim.name, victim.password) })).status).toBe(429);
    // Another user from the same address is not affected.
    expect((await send(url, 'GET', '/api/v1/hosts', { authorization: basic(users.viewer!.name, users.viewer!.password) })).status).toBe(200);

    const failed = await waitForAuditEntry(url, 'failed login of rita', (e) => e.action === 'login' && e.username === 'rita' && e.outcome === 'failed');
    expect(failed.detail).toBe('wrong password');
    await waitForAuditEntry(url, 'rate-limited login of rita', (e) => e.action === 'login' && e.username === 'rita' && e.outcome === 'denied');
    expect(master!.output()).toMatch(/login failed/);
    expect(master!.output()).not.toContain(wrong);
    expect(master!.output()).not.toContain(victim.password);
  });
});
