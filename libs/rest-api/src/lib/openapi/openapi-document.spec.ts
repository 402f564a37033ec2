import { startInMemoryMaster, InMemoryMaster } from '@shipdeck/master-services/testing';
import { testAuth } from '../../test-support/auth';
import { memoryLogger } from '../../test-support/memory-logger';
import { TestServer, startTestServer } from '../../test-support/http';
import { guardedRoutes } from '../access-policy';
import { createRestApp } from '../app';
import { JsonSchema } from './json-schemas';
import { OpenApiDocument, mountOf } from './openapi-document';

let master: InMemoryMaster;
let server: TestServer;
let document: OpenApiDocument;

beforeAll(async () => {
  const { logger } = memoryLogger();
  master = await startInMemoryMaster({ logger });
  server = await startTestServer(createRestApp({ services: master.services, logger, auth: testAuth(master.stores, logger) }));
  const res = await server.request('GET', '/api/v1/openapi.json');
  expect(res.status).toBe(200);
  document = res.json as OpenApiDocument;
});

afterAll(async () => {
  await server.close();
  await master.close();
});

const METHODS = ['get', 'put', 'post', 'delete', 'patch', 'head', 'options'];

/** Every operation of the document as `METHOD path`, with the path as the routers declare it. */
function documentedRoutes(): string[] {
  return Object.entries(document.paths).flatMap(([path, item]) =>
    Object.keys(item)
      .filter((key) => METHODS.includes(key))
      .map((method) => {
        const declared = path.replace(/\{([A-Za-z]+)\}/g, ':$1');
        const mount = ['/health', '/api/v1'].find((m) => declared.startsWith(`${m}/`)) ?? '';
        return `${method.toUpperCase()} ${declared.slice(mount.length)}`;
      }),
  );
}

it('documents every route the app registered, and no route it did not', () => {
  // guardedRoutes(): what the routers registered through route() while createRestApp() built the app.
  expect(documentedRoutes().sort()).toEqual([...guardedRoutes()].sort());
});

it('puts each route under the path its router is mounted at', () => {
  for (const key of guardedRoutes()) {
    const [method, path] = key.split(' ') as [string, string];
    const documented = `${mountOf(path)}${path.replace(/:([A-Za-z]+)/g, '{$1}')}`;
    expect({ key, operation: document.paths[documented]?.[method.toLowerCase()] !== undefined }).toEqual({ key, operation: true });
  }
});

it('is OpenAPI 3.1 with the three auth schemes, and public routes open', () => {
  expect(document.openapi).toBe('3.1.0');
  expect(Object.keys(document.components.securitySchemes).sort()).toEqual(['basic', 'bearer', 'session']);
  expect(document.paths['/api/v1/auth/login']?.['post']?.['security']).toEqual([]);
  expect(document.paths['/health/live']?.['get']?.['security']).toEqual([]);
  expect(document.paths['/api/v1/tasks']?.['get']?.['security']).toBeUndefined();
});

it('gives every operation a unique id, a success answer, error answers, and the DTO schemas of its input', () => {
  const ids = new Set<string>();
  for (const [path, item] of Object.entries(document.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const responses = op['responses'] as Record<string, unknown>;
      const id = op['operationId'] as string;
      expect({ path, method, duplicate: ids.has(id) }).toEqual({ path, method, duplicate: false });
      ids.add(id);
      expect(Object.keys(responses).some((status) => /^2\d\d$/.test(status))).toBe(true);
      expect(responses['default']).toEqual({ $ref: '#/components/responses/Error' });
      if (op['security'] === undefined) expect(Object.keys(responses)).toEqual(expect.arrayContaining(['401', '403']));
    }
  }
  const deployment = document.paths['/api/v1/deployments']?.['post'];
  expect(deployment?.['requestBody']).toEqual({
    required: true,
    content: { 'application/json': { schema: { $ref: '#/components/schemas/DeploymentBody' } } },
  });
  expect(document.components.schemas['DeploymentBody']).toMatchObject({
    type: 'object',
    required: ['application', 'version', 'environment'],
    properties: { skipSteps: { type: 'array', items: { type: 'string', pattern: '^\\d+(-\\d+){0,2}$' } } },
  });
  expect(document.components.schemas['EnvironmentBody']).toMatchObject({
    properties: { dictionary: { type: 'object', additionalProperties: { type: 'string' } } },
  });
});

it('describes the paged audit list with its cursor, and list filters as query parameters', () => {
  const audit = document.paths['/api/v1/audit']?.['get'];
  expect(audit?.['x-shipdeck-paged']).toEqual({ limit: 'limit', cursor: 'cursor', next: 'nextCursor' });
  const page = (audit?.['responses'] as Record<string, { content: Record<string, { schema: JsonSchema }> }>)['200']!.content['application/json']!.schema;
  expect(page).toMatchObject({ required: ['items', 'nextCursor'], properties: { items: { type: 'array' }, nextCursor: { type: ['string', 'null'] } } });
  const names = (audit?.['parameters'] as { name: string; in: string }[]).map((p) => `${p.in}:${p.name}`);
  expect(names).toEqual(expect.arrayContaining(['query:limit', 'query:cursor']));
  const tasks = document.paths['/api/v1/tasks']?.['get']?.['parameters'] as { name: string; schema: { enum?: string[] } }[];
  expect(tasks.find((p) => p.name === 'state')?.schema.enum).toContain('UNKNOWN');
});

it('serves the reference page and its assets from the npm package, loading this document', async () => {
  const page = await server.request('GET', '/api-docs/');
  expect(page.status).toBe(200);
  expect(page.text).toContain('swagger-initializer.js');
  const initializer = await server.request('GET', '/api-docs/swagger-initializer.js');
  expect(initializer.text).toContain('"/api/v1/openapi.json"');
  const bundle = await server.request('GET', '/api-docs/swagger-ui-bundle.js');
  expect(bundle.status).toBe(200);
  expect(bundle.headers.get('content-type')).toMatch(/javascript/);
});
