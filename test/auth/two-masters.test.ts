/**
 * Credentials across the masters of a cluster (two `shipdeck master` processes on one PostgreSQL
 * schema): a token revoked on master A is refused by master B at its next request, a session
 * opened on A is accepted by B (and ended on both by a logout on either), a disabled user's
 * session ends everywhere.
 */
import { requireClusterPrerequisites } from '../support/cluster';
import { useCluster } from '../support/cluster-tests';
import { ADMIN_AUTHORIZATION } from '../support/credentials';
import type { Page } from '../support/rest-client';
import { basic, bearer, createToken, createUser, login, send, waitForAuditEntry } from './support';

beforeAll(requireClusterPrerequisites, 120_000);

describe('two masters on one database', () => {
  const { scenario } = useCluster({ masters: 2, workers: 0 });

  scenario('a token revoked on master A is refused by master B at once', async (cluster) => {
    const [a, b] = cluster.masters.map((m) => m.url) as [string, string];
    const user = await createUser(a, 'carl', 'deployer');
    const token = await createToken(a, user, 'ci');
    // Created on A, accepted by B.
    expect((await send(b, 'GET', '/api/v1/tasks', { authorization: bearer(token.token) })).status).toBe(200);
    // GET /tokens is paged: one page of up to 1,000 holds all of carl's tokens (nextCursor null).
    const listed = await send<Page<{ id: string; lastUsedAt: string | null; revokedAt: string | null }>>(b, 'GET', '/api/v1/tokens?limit=1000', {
      authorization: basic(user.name, user.password),
    });
    expect({ status: listed.status, nextCursor: listed.body.nextCursor }).toEqual({ status: 200, nextCursor: null });
    expect(listed.body.items.find((t) => t.id === token.id)).toMatchObject({ lastUsedAt: expect.any(String), revokedAt: null });

    const revoked = await send<{ revokedAt: string | null }>(a, 'DELETE', `/api/v1/tokens/${token.id}`, { authorization: basic(user.name, user.password) });
    expect(revoked.status).toBe(200);
    expect(revoked.body.revokedAt).toEqual(expect.any(String));
    // The very next request on B, without waiting for anything: refused.
    const refused = await send<{ error: { code: string } }>(b, 'GET', '/api/v1/tasks', { authorization: bearer(token.token) });
    expect(refused.status).toBe(401);
    expect(refused.body.error.code).toBe('UNAUTHENTICATED');
    expect((await send(a, 'GET', '/api/v1/tasks', { authorization: bearer(token.token) })).status).toBe(401);

    // Revoking is audited, whichever master did it, and any master reads the trail.
    const entry = await waitForAuditEntry(b, 'the revocation on A', (e) => e.action === 'DELETE /api/v1/tokens/:id' && e.objectIds['id'] === token.id);
    expect(entry).toMatchObject({ username: 'carl', outcome: 'succeeded', status: 200 });
  });

  scenario('a session cookie from master A is accepted by master B, and a logout on B ends it on A', async (cluster) => {
    const [a, b] = cluster.masters.map((m) => m.url) as [string, string];
    const user = await createUser(a, 'bea', 'admin');
    const cookie = await login(a, user);
    expect((await send(b, 'GET', '/api/v1/hosts', { cookie })).status).toBe(200);
    // A state change on B with A's session (JSON, so not a cross-site form).
    const put = await send(b, 'PUT', '/api/v1/hosts/via-b', { cookie, json: { type: 'local' } });
    expect({ status: put.status, text: put.text }).toEqual({ status: 201, text: expect.any(String) });
    expect((await send(a, 'GET', '/api/v1/hosts/via-b', { cookie })).status).toBe(200);

    expect((await send(b, 'POST', '/api/v1/auth/logout', { cookie })).status).toBe(204);
    expect((await send(a, 'GET', '/api/v1/hosts', { cookie })).status).toBe(401);
    expect((await send(b, 'GET', '/api/v1/hosts', { cookie })).status).toBe(401);
  });

  scenario('deleting a user on master B ends the session and tokens it had on master A', async (cluster) => {
    const [a, b] = cluster.masters.map((m) => m.url) as [string, string];
    const user = await createUser(a, 'dave', 'viewer');
    const cookie = await login(a, user);
    const token = await createToken(a, user);
    expect((await send(a, 'GET', '/api/v1/hosts', { cookie })).status).toBe(200);
    expect((await send(b, 'DELETE', '/api/v1/users/dave', { authorization: ADMIN_AUTHORIZATION })).status).toBe(204);
    expect((await send(a, 'GET', '/api/v1/hosts', { cookie })).status).toBe(401);
    expect((await send(a, 'GET', '/api/v1/hosts', { authorization: bearer(token.token) })).status).toBe(401);
  });
});
