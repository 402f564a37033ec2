import { authorize } from '@shipdeck/auth';
import { InMemoryMaster, petclinicManifest } from '@shipdeck/master-services/testing';
import { bearerFor } from '../test-support/auth';
import { TestServer } from '../test-support/http';
import { RestMaster, startRestMaster } from '../test-support/rest-master';
import { ROUTE_POLICIES, guardedRoutes } from './access-policy';

/*
 * Every route of ROUTE_POLICIES, generated from the table: without credentials 401, with a role
 * that lacks the permission 403, with one that has it neither. A route added without a policy
 * cannot even be registered, and a policy without its route fails the first test.
 */

let rest: RestMaster;
let master: InMemoryMaster;
let server: TestServer;
const tokens: Record<string, string> = {};

beforeAll(async () => {
  rest = await startRestMaster({ seedCatalog: true });
  ({ master, server } = rest);
  tokens['viewer'] = await bearerFor(rest.auth, 'vera', 'viewer');
  tokens['deployer'] = await bearerFor(rest.auth, 'dora', 'deployer', ['dev']);
  tokens['admin'] = rest.admin;
});

afterAll(() => rest.close());

/** A request for the route: path parameters filled in, a JSON body for methods that take one. */
function call(key: string, authorization?: string) {
  const [method, pattern] = key.split(' ') as [string, string];
  const path = pattern.replace(':path', '1-1-1').replace(/:[a-z]+/g, 'x1');
  const base = pattern === '/live' || pattern === '/ready' ? '/health' : '/api/v1';
  const json = method === 'POST' || method === 'PUT' ? { environment: 'dev' } : undefined;
  return server.request(method, base + path, { json, headers: authorization ? { authorization } : {} });
}

const protectedRoutes = Object.entries(ROUTE_POLICIES).filter(([, policy]) => policy.permission !== 'public');

it('has a registered route for every policy and a policy for every route', () => {
  expect([...guardedRoutes()].sort()).toEqual(Object.keys(ROUTE_POLICIES).sort());
});

it.each(protectedRoutes.map(([key]) => key))('%s answers 401 without credentials', async (key) => {
  const res = await call(key);
  expect(res.status).toBe(401);
  expect(res.json).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String), details: [] } });
});

describe.each(['viewer', 'deployer', 'admin'] as const)('as a %s', (role) => {
  it.each(protectedRoutes)('%s is refused (403) exactly when the role lacks the permission', async (key, policy) => {
    const res = await call(key, tokens[role]);
    const subject = { role, environments: role === 'deployer' ? ['dev'] : null };
    const allowed = authorize(subject, policy.permission as Exclude<typeof policy.permission, 'public'>, { environment: null }).allowed;
    if (allowed) expect([401, 403]).not.toContain(res.status);
    else expect(res.status).toBe(403);
  });
});

it('refuses a deployer limited to dev a deployment to prod, and lets it deploy to dev', async () => {
  const prod = await server.request('POST', '/api/v1/deployments', {
    json: { application: 'petclinic', version: '1.0.0', environment: 'prod' },
    headers: { authorization: tokens['deployer']! },
  });
  expect(prod.status).toBe(403);
  await master.services.catalog.importPackage(petclinicManifest());
  const dev = await server.request('POST', '/api/v1/deployments', {
    json: { application: 'petclinic', version: '1.0.0', environment: 'dev' },
    headers: { authorization: tokens['deployer']! },
  });
  expect(dev.status).toBe(201);
});
