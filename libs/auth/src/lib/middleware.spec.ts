import { request as httpRequest, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import express from 'express';
import { authKit } from '../testing/auth-kit';
import { StoreAuditRecorder } from './audit';
import { clearedSessionCookie, readCookie, sessionCookie } from './cookies';
import { auditEntryOf, auditStoredWithEffect, auditTrail, authErrorHandler, authenticate, principalOf, requirePermission } from './middleware';
import { LoginRateLimiter } from './rate-limit';
import { AuditEntry } from './store';

const PASSWORD = 'a long enough password';

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One request with node's http client; the body is parsed as JSON when it is JSON. */
function call(server: Server, method: string, path: string, headers: Record<string, string> = {}, body?: string): Promise<Answer> {
  const { port } = server.address() as AddressInfo;
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => {
        const json = (res.headers['content-type'] ?? '').includes('application/json');
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: json ? JSON.parse(text) : text });
      });
    });
    req.on('error', reject);
    req.end(body);
  });
}

const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function until<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 2000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

describe('auth middleware on a real express app', () => {
  const kit = authKit({ limiter: new LoginRateLimiter({ capacity: 2, refillIntervalMs: 60_000, maxKeys: 100 }) });
  const { auth, store } = kit;
  let server: Server;
  let viewerToken: string;
  let deployerToken: string;
  let adminToken: string;
  let sessionId: string;

  beforeAll(async () => {
    const app = express();
    app.use(auditTrail({ recorder: new StoreAuditRecorder(store), logger: kit.logger, now: () => kit.clock.now }));
    app.get('/health/live', (_req, res) => void res.json({ ok: true }));
    const api = express.Router();
    api.use(authenticate({ auth }));
    api.get('/whoami', requirePermission('read'), (req, res) => void res.json(principalOf(req)));
    api.post(
      '/environments/:environment/deploy',
      requirePermission('deploy', (req) => String(req.params['environment'])),
      (_req, res) => void res.status(201).json({ deployed: true }),
    );
    api.post(
      '/tasks/:id/stop',
      requirePermission('task:operate', async (req) => (req.params['id'] === 'control-task' ? null : 'prod')),
      (_req, res) => void res.json({ stopped: true }),
    );
    api.post('/deploy-anywhere', requirePermission('deploy'), (_req, res) => void res.json({ deployed: true }));
    api.delete('/workers/:id', requirePermission('worker:manage'), (_req, res) => void res.status(204).end());
    api.post(
      '/broken/:id',
      requirePermission('task:operate', async () => {
        throw new Error('lookup failed');
      }),
      (_req, res) => void res.json({}),
    );
    // A login endpoint as the wiring would write one: AuthService's refusals reach authErrorHandler.
    app.post('/login', express.json(), (req, res, next) => {
      const { username, password } = req.body as { username: string; password: string };
      auth.login(username, password, req.ip ?? '').then(
        (opened) => void res.set('Set-Cookie', sessionCookie(opened.sessionId, opened.expiresAt, kit.clock.now, { secure: false })).status(204).end(),
        next,
      );
    });
    app.use('/api/v1', api);
    app.use(authErrorHandler());
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: { code: 'INTERNAL', message: error.message, details: [] } });
    });
    server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });

    const viewer = await auth.createUser({ username: 'viewer', password: PASSWORD, role: 'viewer' });
    const deployer = await auth.createUser({ username: 'deployer', password: PASSWORD, role: 'deployer', environments: ['dev'] });
    const admin = await auth.createUser({ username: 'admin', password: PASSWORD, role: 'admin' });
    viewerToken = (await auth.createToken(viewer.id, 'v')).token;
    deployerToken = (await auth.createToken(deployer.id, 'd')).token;
    adminToken = (await auth.createToken(admin.id, 'a')).token;
    sessionId = (await auth.login('admin', PASSWORD, '127.0.0.1')).sessionId;
  });

  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('leaves routes outside the authenticated router open', async () => {
    expect((await call(server, 'GET', '/health/live')).status).toBe(200);
  });

  it('a login route answers its refusal through authErrorHandler, and its cookie authenticates', async () => {
    const json = { 'Content-Type': 'application/json' };
    const refused = await call(server, 'POST', '/login', json, JSON.stringify({ username: 'viewer', password: 'not the password' }));
    expect(refused.status).toBe(401);
    expect(refused.body).toEqual({ error: { code: 'UNAUTHENTICATED', message: 'wrong user name or password', details: [] } });
    const ok = await call(server, 'POST', '/login', json, JSON.stringify({ username: 'viewer', password: PASSWORD }));
    expect(ok.status).toBe(204);
    const cookie = (ok.headers['set-cookie'] as string[])[0]!;
    expect(cookie).toMatch(/^shipdeck_session=[A-Za-z0-9_-]{43}; Max-Age=43200; Path=\/; HttpOnly; SameSite=Strict$/);
    const answer = await call(server, 'GET', '/api/v1/whoami', { Cookie: cookie.split(';')[0]! });
    expect(answer.body).toMatchObject({ username: 'viewer', via: 'session' });
  });

  it('answers 401 in the error shape, with a Bearer challenge, without credentials', async () => {
    const answer = await call(server, 'GET', '/api/v1/whoami');
    expect(answer.status).toBe(401);
    expect(answer.headers['www-authenticate']).toBe('Bearer realm="shipdeck"');
    expect(answer.body).toEqual({
      error: {
        code: 'UNAUTHENTICATED',
        message: 'credentials required: an API token (Authorization: Bearer), basic auth or a session cookie',
        details: [],
      },
    });
  });

  it('accepts a bearer token and puts the principal on the request', async () => {
    const answer = await call(server, 'GET', '/api/v1/whoami', { Authorization: `Bearer ${viewerToken}` });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ username: 'viewer', role: 'viewer', via: 'token' });
  });

  it('accepts HTTP basic auth', async () => {
    const answer = await call(server, 'GET', '/api/v1/whoami', { Authorization: basic('deployer', PASSWORD) });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ username: 'deployer', via: 'basic', environments: ['dev'] });
  });

  it('accepts the session cookie', async () => {
    const answer = await call(server, 'GET', '/api/v1/whoami', { Cookie: `other=1; shipdeck_session=${sessionId}` });
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ username: 'admin', via: 'session' });
  });

  it.each([
    ['an unknown token', `Bearer shipdeck_${'B'.repeat(43)}`, 'unknown token'],
    ['a malformed header', 'Bearer', 'malformed Authorization header'],
    ['another scheme', 'Digest abc', 'unsupported authorization scheme Digest; use Bearer or Basic'],
    ['basic without a colon', `Basic ${Buffer.from('nocolon').toString('base64')}`, 'malformed basic credentials'],
  ])('answers 401 for %s', async (_what, header, message) => {
    const answer = await call(server, 'GET', '/api/v1/whoami', { Authorization: header });
    expect(answer.status).toBe(401);
    expect(answer.body).toEqual({ error: { code: 'UNAUTHENTICATED', message, details: [] } });
  });

  it('judges a request by its Authorization header alone, even with a valid session cookie', async () => {
    const answer = await call(server, 'GET', '/api/v1/whoami', {
      Authorization: `Bearer shipdeck_${'C'.repeat(43)}`,
      Cookie: `shipdeck_session=${sessionId}`,
    });
    expect(answer.status).toBe(401);
  });

  it('answers 403 FORBIDDEN, saying why, without the permission', async () => {
    const answer = await call(server, 'DELETE', '/api/v1/workers/w1', { Authorization: `Bearer ${deployerToken}` });
    expect(answer.status).toBe(403);
    expect(answer.body).toEqual({
      error: { code: 'FORBIDDEN', message: 'deployer: role deployer does not have permission worker:manage', details: [] },
    });
    expect((await call(server, 'DELETE', '/api/v1/workers/w1', { Authorization: `Bearer ${adminToken}` })).status).toBe(204);
  });

  it('narrows a deployer to their environments, by the environment the route names', async () => {
    const auth = { Authorization: `Bearer ${deployerToken}` };
    expect((await call(server, 'POST', '/api/v1/environments/dev/deploy', auth)).status).toBe(201);
    const refused = await call(server, 'POST', '/api/v1/environments/prod/deploy', auth);
    expect(refused.status).toBe(403);
    expect((refused.body as { error: { message: string } }).error.message).toBe(
      'deployer: permission deploy is limited to environments dev, not prod',
    );
    // Looked up asynchronously: a task in prod is refused, one in no environment is allowed.
    expect((await call(server, 'POST', '/api/v1/tasks/t-prod/stop', auth)).status).toBe(403);
    expect((await call(server, 'POST', '/api/v1/tasks/control-task/stop', auth)).status).toBe(200);
    // A route that does not say which environment it touches fails closed for a narrowed deployer.
    expect((await call(server, 'POST', '/api/v1/deploy-anywhere', auth)).status).toBe(403);
    expect((await call(server, 'POST', '/api/v1/deploy-anywhere', { Authorization: `Bearer ${adminToken}` })).status).toBe(200);
  });

  it('hands a failing environment lookup to the error handler', async () => {
    const answer = await call(server, 'POST', '/api/v1/broken/1', { Authorization: `Bearer ${adminToken}` });
    expect(answer.status).toBe(500);
    expect(answer.body).toMatchObject({ error: { message: 'lookup failed' } });
  });

  it('a revoked token is refused from the next request on', async () => {
    const user = (await store.getUserByName('viewer'))!;
    const { token, record } = await auth.createToken(user.id, 'to-revoke');
    expect((await call(server, 'GET', '/api/v1/whoami', { Authorization: `Bearer ${token}` })).status).toBe(200);
    await auth.revokeToken(record.id);
    const answer = await call(server, 'GET', '/api/v1/whoami', { Authorization: `Bearer ${token}` });
    expect(answer.status).toBe(401);
    expect((answer.body as { error: { message: string } }).error.message).toBe('token revoked');
  });

  it('rate-limits failed basic-auth attempts with 429 and Retry-After', async () => {
    await auth.createUser({ username: 'target', password: PASSWORD, role: 'viewer' });
    expect((await call(server, 'GET', '/api/v1/whoami', { Authorization: basic('target', 'wrong-1') })).status).toBe(401);
    expect((await call(server, 'GET', '/api/v1/whoami', { Authorization: basic('target', 'wrong-2') })).status).toBe(401);
    const limited = await call(server, 'GET', '/api/v1/whoami', { Authorization: basic('target', PASSWORD) });
    expect(limited.status).toBe(429);
    expect(limited.headers['retry-after']).toBe('60');
    expect(limited.body).toMatchObject({ error: { code: 'TOO_MANY_ATTEMPTS' } });
  });

  it('records state-changing requests in the audit trail: who, route, object ids, outcome, status, from where', async () => {
    const found = (entries: AuditEntry[], status: number) => entries.find((e) => e.status === status);
    await call(server, 'POST', '/api/v1/environments/dev/deploy', { Authorization: `Bearer ${deployerToken}` });
    await call(server, 'POST', '/api/v1/environments/prod/deploy', { Authorization: `Bearer ${deployerToken}` });
    await call(server, 'POST', '/api/v1/environments/qa/deploy?force=true');
    await call(server, 'GET', '/api/v1/whoami', { Authorization: `Bearer ${deployerToken}` });
    const action = 'POST /api/v1/environments/:environment/deploy';
    const deployer = (await store.getUserByName('deployer'))!;
    const succeeded = await until(async () => found(await store.listAudit({ limit: 50, action }), 201), 'the 201 entry');
    expect(succeeded).toMatchObject({
      userId: deployer.id,
      username: 'deployer',
      objectIds: { environment: 'dev' },
      outcome: 'succeeded',
      sourceIp: '127.0.0.1',
      detail: null,
    });
    expect(succeeded.tokenId).not.toBeNull();
    const denied = await until(async () => found(await store.listAudit({ limit: 50, action }), 403), 'the 403 entry');
    expect(denied).toMatchObject({ outcome: 'denied', objectIds: { environment: 'prod' }, detail: 'FORBIDDEN' });
    // Refused before any route ran: recorded by path, without a user.
    const anonymous = await until(
      async () => found(await store.listAudit({ limit: 50, action: 'POST /api/v1/environments/qa/deploy' }), 401),
      'the 401 entry',
    );
    expect(anonymous).toMatchObject({ userId: null, outcome: 'denied', detail: 'UNAUTHENTICATED' });
    // Reads are not audited.
    const reads = (await store.listAudit({ limit: 500 })).filter((e) => e.action.startsWith('GET'));
    expect(reads).toEqual([]);
  });
});

describe('an audit entry stored by the route with its effect', () => {
  it('is the entry the trail would record, recorded once; a failed effect leaves the failure to the trail', async () => {
    const kit = authKit();
    const app = express();
    app.use(auditTrail({ recorder: new StoreAuditRecorder(kit.store), logger: kit.logger, now: () => kit.clock.now }));
    const api = express.Router();
    api.use(authenticate({ auth: kit.auth }));
    api.post('/things/:name', requirePermission('deploy'), (req, res, next) => {
      const entry = auditEntryOf(req, res, 201);
      if (req.query['fail'] !== undefined) {
        next(new Error('storing the thing failed'));
        return;
      }
      kit.store.appendAudit({ ...entry!, detail: 'stored with the thing' }).then(() => {
        auditStoredWithEffect(req);
        res.status(201).json({ stored: true });
      }, next);
    });
    app.use('/api/v1', api);
    app.use((error: Error, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
      res.status(500).json({ error: { code: 'INTERNAL', message: error.message, details: [] } });
    });
    const server = await new Promise<Server>((resolve) => {
      const s = app.listen(0, '127.0.0.1', () => resolve(s));
    });
    try {
      const user = await kit.auth.createUser({ username: 'maker', password: PASSWORD, role: 'deployer' });
      const token = (await kit.auth.createToken(user.id, 't')).token;
      const action = 'POST /api/v1/things/:name';
      expect((await call(server, 'POST', '/api/v1/things/one', { Authorization: `Bearer ${token}` })).status).toBe(201);
      expect((await call(server, 'POST', '/api/v1/things/two?fail', { Authorization: `Bearer ${token}` })).status).toBe(500);
      const failed = await until(async () => (await kit.store.listAudit({ limit: 50, action })).find((e) => e.status === 500), 'the 500 entry');
      expect(failed).toMatchObject({ objectIds: { name: 'two' }, outcome: 'failed', detail: null });
      const entries = await kit.store.listAudit({ limit: 50, action });
      expect(entries.filter((e) => e.objectIds['name'] === 'one')).toEqual([
        expect.objectContaining({ userId: user.id, outcome: 'succeeded', status: 201, sourceIp: '127.0.0.1', detail: 'stored with the thing' }),
      ]);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });

  it('is null for a request the trail does not record', () => {
    const req = { method: 'GET' } as express.Request;
    expect(auditEntryOf(req, { locals: {} } as express.Response, 200)).toBeNull();
  });
});

describe('session cookie', () => {
  const now = new Date('2026-03-01T12:00:00Z');

  it('is HttpOnly and SameSite=Strict, Secure on HTTPS, and lasts until the session expires', () => {
    expect(sessionCookie('abc', '2026-03-01T13:00:00Z', now, { secure: false })).toBe(
      'shipdeck_session=abc; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict',
    );
    expect(sessionCookie('abc', '2026-03-01T13:00:00Z', now, { secure: true })).toBe(
      'shipdeck_session=abc; Max-Age=3600; Path=/; HttpOnly; SameSite=Strict; Secure',
    );
    expect(clearedSessionCookie({ secure: false })).toBe('shipdeck_session=; Max-Age=0; Path=/; HttpOnly; SameSite=Strict');
  });

  it('is read from a Cookie header among others', () => {
    expect(readCookie('a=1; shipdeck_session=xyz; b=2')).toBe('xyz');
    expect(readCookie('shipdeck_session="quoted"')).toBe('quoted');
    expect(readCookie('xshipdeck_session=no; b')).toBeUndefined();
    expect(readCookie(undefined)).toBeUndefined();
  });
});
