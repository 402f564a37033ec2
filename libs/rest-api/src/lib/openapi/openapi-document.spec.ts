import { MAX_NAME_LENGTH, NAME_PATTERN } from '@shipdeck/domain';
import { TestServer } from '../../test-support/http';
import { RestMaster, startRestMaster } from '../../test-support/rest-master';
import { guardedRoutes } from '../access-policy';
import { JsonSchema } from './json-schemas';
import { OpenApiDocument, mountOf } from './openapi-document';

let rest: RestMaster;
let server: TestServer;
let document: OpenApiDocument;
/** The `Authorization` of an admin, who may read every list. */
let admin: string;

beforeAll(async () => {
  rest = await startRestMaster();
  ({ server, admin } = rest);
  const res = await server.request('GET', '/api/v1/openapi.json');
  expect(res.status).toBe(200);
  document = res.json as OpenApiDocument;
});

afterAll(() => rest.close());

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
  // Names follow spec §1 (names.ts), in bodies and queries alike.
  const nameSchema = { type: 'string', maxLength: MAX_NAME_LENGTH, pattern: NAME_PATTERN.source, not: { pattern: '\\.\\.' } };
  expect(document.components.schemas['HostBody']).toMatchObject({ properties: { name: nameSchema, tags: { type: 'array', items: nameSchema } } });
  expect(document.components.schemas['TaskListQuery']).toMatchObject({ properties: { worker: nameSchema, limit: { type: 'string' } } });
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

it('documents as paged exactly the lists that answer a page, with their element schema and limit and cursor', async () => {
  type Operation = { parameters?: { name: string; in: string }[]; responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }> };
  const checked: string[] = [];
  for (const [path, item] of Object.entries(document.paths)) {
    const op = item['get'] as Operation | undefined;
    // A route with a path parameter needs a resource to answer a list; those are checked below by their schema.
    if (!op || path.includes('{') || !op.responses['200']?.content?.['application/json']) continue;
    const res = await server.request('GET', path, { headers: { authorization: admin } });
    expect({ path, status: res.status }).toEqual({ path, status: 200 });
    const answersPage = typeof res.json === 'object' && res.json !== null && 'items' in res.json && 'nextCursor' in res.json;
    expect({ path, documentedPaged: (item['get'] as JsonSchema)['x-shipdeck-paged'] !== undefined }).toEqual({ path, documentedPaged: answersPage });
    if (answersPage) checked.push(path);
  }
  // Every list of the API, and the lists below a resource.
  const lists = ['/hosts', '/environments', '/applications', '/tasks', '/archive/tasks', '/workers', '/users', '/tokens', '/audit'].map((p) => `/api/v1${p}`);
  expect(checked.sort()).toEqual(lists.sort());
  for (const path of [...lists, '/api/v1/environments/{name}/deployed', '/api/v1/applications/{app}/versions']) {
    const op = document.paths[path]?.['get'] as Operation;
    const schema = op.responses['200']!.content!['application/json']!.schema;
    expect({ path, schema }).toMatchObject({
      path,
      schema: { type: 'object', required: ['items', 'nextCursor'], properties: { items: { type: 'array' }, nextCursor: { type: ['string', 'null'] } } },
    });
    const query = (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name);
    expect({ path, query }).toEqual({ path, query: expect.arrayContaining(['limit', 'cursor']) });
  }
  const itemsOf = (path: string) =>
    ((document.paths[path]?.['get'] as Operation).responses['200']!.content!['application/json']!.schema['properties'] as Record<string, JsonSchema>)['items'];
  // Lists of tasks carry summaries, without plans.
  expect(itemsOf('/api/v1/tasks')).toEqual({ type: 'array', items: { $ref: '#/components/schemas/TaskSummary' } });
  expect(itemsOf('/api/v1/archive/tasks')).toEqual({ type: 'array', items: { $ref: '#/components/schemas/TaskSummary' } });
  expect(document.components.schemas['TaskSummary']?.['properties']).toMatchObject({ stepCount: { type: 'integer' }, stepsDone: { type: 'integer' } });
  expect(document.components.schemas['TaskSummary']?.['properties']).not.toHaveProperty('plan');
  expect(document.components.schemas['Task']?.['properties']).toHaveProperty('actors');
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
