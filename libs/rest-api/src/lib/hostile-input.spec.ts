import { FieldError } from '@shipdeck/errors';
import { petclinicManifest } from '@shipdeck/master-services/testing';
import { TestResponse, TestServer } from '../test-support/http';
import { useRestMaster } from '../test-support/rest-master';
import { ERROR_DETAIL_LIMITS } from './http-errors';
import { INPUT_LIMITS } from './input-limits';

/*
 * Issue 9: hostile requests get a clear 4xx naming the field and the limit, never a 5xx, and
 * never reach object prototypes. Against the real master services (in-memory SQLite).
 */

interface ErrorJson {
  error: { code: string; message: string; details: FieldError[] };
}

const rest = useRestMaster({ seedCatalog: true, asAdmin: true });

const api = (method: string, path: string, options?: Parameters<TestServer['request']>[2]) =>
  rest.server.request(method, `/api/v1${path}`, options);

function refused(res: TestResponse, status = 400): ErrorJson['error'] {
  expect(res.status).toBe(status);
  const { error } = res.json as ErrorJson;
  expect(typeof error.code).toBe('string');
  expect(typeof error.message).toBe('string');
  expect(Array.isArray(error.details)).toBe(true);
  return error;
}

const deployment = { application: 'petclinic', version: '1.0.0', environment: 'dev' };

describe('prototype keys', () => {
  it.each([
    ['/deployments', '__proto__'],
    ['/deployments/preview', 'constructor'],
    ['/control-tasks', 'prototype'],
  ])('POST %s with a "%s" key is a 400 naming the key', async (path, key) => {
    const body = `{"target":"local","control":"checkConnection","application":"a","version":"1","environment":"dev","${key}":{"polluted":true}}`;
    const error = refused(await api('POST', path, { body, headers: { 'content-type': 'application/json' } }));
    expect(error.code).toBe('VALIDATION_FAILED');
    expect(error.details).toEqual([{ field: `body.${key}`, message: `the key "${key}" is not allowed` }]);
    expect(({} as Record<string, unknown>)['polluted']).toBeUndefined();
  });

  it('refuses prototype keys nested anywhere, also in YAML manifests', async () => {
    const yaml = 'application: a\nversion: "1"\ndeployables:\n  - name: x\n    type: cmd.Command\n    create: "true"\n    env:\n      __proto__:\n        polluted: yes\n';
    const error = refused(await api('POST', '/packages', { body: yaml, headers: { 'content-type': 'application/yaml' } }));
    expect(error.details[0].field).toBe('body.deployables[0].env.__proto__');
  });

  it('refuses them in the query string', async () => {
    const error = refused(await api('GET', '/tasks?constructor=1'));
    expect(error.details[0].field).toBe('query.constructor');
  });
});

describe('names (spec §1)', () => {
  const long = 'a'.repeat(100_000);

  it('refuses a 100,000-character application name with a short answer and no echo in headers', async () => {
    const res = await api('POST', '/packages', { json: { ...petclinicManifest(), application: long } });
    const error = refused(res);
    expect(error.details).toEqual([{ field: 'application', message: 'must be at most 128 characters (got 100000)' }]);
    expect(res.text.length).toBeLessThan(2_000);
    for (const [, value] of res.headers) expect(value).not.toContain('aaaa');
  });

  it.each([
    ['a NUL', 'web\u0000x'],
    ['a newline', 'web\nINFO forged'],
    ['a bidi override', 'web\u202Ex'],
    ['white space only', '   '],
    ['..', 'a..b'],
    ['a leading dot', '.x'],
    ['129 characters', 'h'.repeat(129)],
  ])('refuses a host name with %s in the path', async (_what, name) => {
    const error = refused(await api('PUT', `/hosts/${encodeURIComponent(name)}`, { json: { type: 'local' } }));
    expect(error.details[0].field).toBe('name');
  });

  it('checks every kind of name: versions, environments, hosts, tags, dictionary keys, workers', async () => {
    expect(refused(await api('POST', '/deployments', { json: { ...deployment, version: '1.0 beta' } })).details[0].field).toBe('version');
    expect((await api('POST', '/deployments/preview', { json: { ...deployment, version: '1.0.0+b1' } })).status).toBe(404);
    expect(refused(await api('POST', '/undeployments', { json: { application: 'petclinic', environment: 'd\u0007' } })).details[0].field).toBe('environment');
    const env = await api('PUT', '/environments/dev', { json: { hosts: ['local', 'a b'], dictionary: { 'K\n': 'v', OK: 'x\ny' } } });
    expect(refused(env).details.map((d) => d.field).sort()).toEqual(['dictionary["K\\n"]', 'hosts[1]']);
    expect(refused(await api('PUT', '/hosts/h1', { json: { type: 'local', tags: ['ok', 'no/slash'] } })).details[0].field).toBe('tags[1]');
    expect(refused(await api('GET', '/tasks?worker=%E2%80%AEw')).details[0].field).toBe('worker');
    expect(refused(await api('POST', `/workers/${'w'.repeat(200)}/drain`)).details[0].field).toBe('id');
  });

  it('refuses a deployable name with control characters in a manifest', async () => {
    const manifest = petclinicManifest();
    (manifest['deployables'] as { name: string }[])[0].name = 'app\r\nX-Injected: 1';
    expect(refused(await api('POST', '/packages', { json: manifest })).details[0].field).toBe('deployables[0].name');
  });
});

describe('environments', () => {
  it('refuses a host listed twice, naming the duplicate', async () => {
    const error = refused(await api('PUT', '/environments/dev', { json: { hosts: ['local', 'local'] } }));
    expect(error.details).toEqual([{ field: 'hosts[1]', message: 'duplicate of element 0' }]);
  });
});

describe('size limits', () => {
  it('refuses nesting beyond the limit, however deep, naming the limit', async () => {
    for (const depth of [INPUT_LIMITS.maxDepth + 1, 2_000, 100_000]) {
      const body = `{"a":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      const error = refused(await api('POST', '/deployments', { body, headers: { 'content-type': 'application/json' } }));
      expect(error.message).toContain(`limit of ${INPUT_LIMITS.maxDepth} levels`);
    }
  });

  it('refuses deep YAML too', async () => {
    const depth = 5_000;
    const yaml = `application: ${'['.repeat(depth)}${']'.repeat(depth)}\n`;
    const error = refused(await api('POST', '/packages', { body: yaml, headers: { 'content-type': 'application/yaml' } }));
    expect(error.message).toContain('levels');
  });

  it('refuses an array over the limit, naming the field and the limit', async () => {
    const hosts = Array.from({ length: 200_000 }, () => 1);
    const error = refused(await api('PUT', '/environments/big', { json: { hosts } }));
    expect(error.details).toEqual([{ field: 'body.hosts', message: `has 200000 elements; the limit is ${INPUT_LIMITS.maxArrayItems}` }]);
  });

  it('refuses a dictionary over the limit', async () => {
    const dictionary = Object.fromEntries(Array.from({ length: INPUT_LIMITS.maxObjectKeys + 1 }, (_, i) => [`K${i}`, 'v']));
    const error = refused(await api('PUT', '/environments/big', { json: { hosts: ['local'], dictionary } }));
    expect(error.details[0].field).toBe('body.dictionary');
  });

  it('answers at most a bounded number of details for many invalid elements', async () => {
    const hosts = Array.from({ length: INPUT_LIMITS.maxArrayItems }, () => 5);
    const res = await api('PUT', '/environments/big', { json: { hosts } });
    const error = refused(res);
    expect(error.details).toHaveLength(ERROR_DETAIL_LIMITS.maxDetails + 1);
    expect(error.details.at(-1)?.message).toContain(`${INPUT_LIMITS.maxArrayItems - ERROR_DETAIL_LIMITS.maxDetails} more`);
    expect(error.message.length).toBeLessThanOrEqual(ERROR_DETAIL_LIMITS.maxTextLength);
    expect(res.text.length).toBeLessThan(20_000);
  });
});

describe('paged lists (spec §6)', () => {
  it('walks a list page by page with limit and cursor', async () => {
    for (const n of [1, 2, 3, 4]) expect((await api('PUT', `/hosts/h${n}`, { json: { type: 'local' } })).status).toBe(201);
    const names: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const res: TestResponse = await api('GET', `/hosts?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      expect(res.status).toBe(200);
      const page = res.json as { items: { name: string }[]; nextCursor: string | null };
      expect(page.items.length).toBeLessThanOrEqual(2);
      names.push(...page.items.map((h) => h.name));
      cursor = page.nextCursor;
      pages++;
    } while (cursor !== null);
    expect(pages).toBe(3);
    expect(names.sort()).toEqual(['h1', 'h2', 'h3', 'h4', 'local']);
  });

  it.each([['limit=0'], ['limit=1001'], ['limit=-1'], ['limit=x'], ['cursor=12'], ['cursor=c%0A'], ['limit=1&limit=2']])(
    'refuses %s naming the parameter',
    async (query) => {
      const error = refused(await api('GET', `/tasks?${query}`));
      expect(error.details[0].field).toBe(query.split('=')[0]);
    },
  );

  it('pages users and tokens too', async () => {
    for (const path of ['/users', '/tokens', '/workers', '/applications', '/environments', '/archive/tasks']) {
      const res = await api('GET', `${path}?limit=1`);
      expect({ path, status: res.status }).toEqual({ path, status: 200 });
      const page = res.json as { items: unknown; nextCursor: unknown };
      expect(Object.keys(page).sort()).toEqual(['items', 'nextCursor']);
      expect(Array.isArray(page.items)).toBe(true);
      expect(page.nextCursor === null || typeof page.nextCursor === 'string').toBe(true);
    }
  });

  it('lists tasks without their plans', async () => {
    await rest.master.services.catalog.importPackage(petclinicManifest());
    const task = await rest.master.services.deployments.createDeployment(deployment);
    const res = await api('GET', '/tasks');
    const page = res.json as { items: Record<string, unknown>[]; nextCursor: string | null };
    expect(page.nextCursor).toBeNull();
    expect(page.items).toHaveLength(1);
    expect(page.items[0]).toMatchObject({ id: task.id, state: 'PENDING', stepCount: task.steps.length, stepsDone: 0 });
    expect(page.items[0]).not.toHaveProperty('plan');
    expect(page.items[0]).not.toHaveProperty('steps');
    expect((await api('GET', `/tasks/${task.id}`)).json).toHaveProperty('plan');
  });
});
