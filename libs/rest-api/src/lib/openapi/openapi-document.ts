import { SESSION_COOKIE } from '@shipdeck/auth';
import { ROUTE_POLICIES } from '../access-policy';
import { API_BASE_PATH } from '../routing';
import { ANSWER_SCHEMAS, JsonSchema, dtoSchemas } from './json-schemas';
import { STEP_PATH_PATTERN } from '../validation';
import { ROUTE_DOCS, RouteDoc } from './route-docs';

/** The parts of an OpenAPI 3.1 document this generator writes. */
export interface OpenApiDocument {
  openapi: '3.1.0';
  info: { title: string; version: string; description: string };
  paths: Record<string, Record<string, JsonSchema>>;
  components: { schemas: Record<string, JsonSchema>; securitySchemes: Record<string, JsonSchema>; responses: Record<string, JsonSchema> };
  security: Record<string, string[]>[];
}

/** Where the routers of a route are mounted: the probes under /health, the metrics at the root, the rest under the API. */
export function mountOf(path: string): string {
  if (path === '/live' || path === '/ready') return '/health';
  if (path === '/metrics') return '';
  return API_BASE_PATH;
}

const SCHEMA_PREFIX = '#/components/schemas/';
const ERROR_DESCRIPTIONS: Record<number, string> = {
  400: 'Invalid input: `details` names every bad field',
  401: 'No credentials, or wrong, expired or revoked ones',
  403: 'Authenticated, without the permission',
  404: 'Not found',
  409: 'Conflict: the state does not allow it (e.g. an illegal task transition)',
  413: 'Body too large',
  415: 'Unsupported body media type',
  429: 'Too many failed logins',
  503: 'Not ready (database or broker unreachable)',
};

/**
 * The OpenAPI 3.1 document of the master's HTTP API, generated from the route table
 * (ROUTE_POLICIES: every `METHOD path` and who may call it), the request DTOs (their
 * class-validator rules, through class-validator-jsonschema) and {@link ROUTE_DOCS}.
 */
export function buildOpenApiDocument(version: string): OpenApiDocument {
  const dtos = dtoSchemas(SCHEMA_PREFIX, [...new Set(Object.values(ROUTE_DOCS).flatMap((doc) => [doc.body, doc.query].filter((c) => c !== undefined)))]);
  const paths: OpenApiDocument['paths'] = {};
  for (const [key, policy] of Object.entries(ROUTE_POLICIES)) {
    const doc = ROUTE_DOCS[key];
    if (!doc) throw new Error(`route ${key} is not documented: add it to ROUTE_DOCS (openapi/route-docs.ts)`);
    const [method, path] = key.split(' ') as [string, string];
    const openApiPath = mountOf(path) + path.replace(/:([A-Za-z]+)/g, '{$1}');
    (paths[openApiPath] ??= {})[method.toLowerCase()] = operation(doc, path, policy.permission === 'public' ? null : policy.permission, dtos);
  }
  for (const key of Object.keys(ROUTE_DOCS)) {
    if (!ROUTE_POLICIES[key]) throw new Error(`ROUTE_DOCS documents ${key}, which is no route: remove it`);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Shipdeck master API',
      version,
      description:
        'The REST API of a Shipdeck master (spec §6), with its probes and metrics. Every path answers 405 (METHOD_NOT_ALLOWED) ' +
        'to a method it does not serve, with the allowed ones in `Allow`. Errors have one shape (`Error`).',
    },
    paths,
    components: {
      schemas: { ...dtos, ...ANSWER_SCHEMAS },
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (`POST /tokens`).' },
        basic: { type: 'http', scheme: 'basic', description: 'User name and password.' },
        session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'The session cookie of `POST /auth/login`.' },
      },
      responses: {
        Error: { description: 'Any other error (500 INTERNAL, 503 NOT_READY)', content: { 'application/json': { schema: { $ref: `${SCHEMA_PREFIX}Error` } } } },
      },
    },
    security: [{ bearer: [] }, { basic: [] }, { session: [] }],
  };
}

function operation(doc: RouteDoc, path: string, permission: string | null, dtos: Record<string, JsonSchema>): JsonSchema {
  const errors = new Set(doc.errors ?? []);
  if (permission !== null) [401, 403].forEach((s) => errors.add(s));
  if (doc.body || doc.bodySchema) [400, 413, 415].forEach((s) => errors.add(s));
  if (doc.query) errors.add(400);
  const schema = doc.paged && doc.ok.schema ? pageOf(doc.ok.schema) : doc.ok.schema;
  const success = (description: string): JsonSchema =>
    schema ? { description, content: { [doc.ok.mediaType ?? 'application/json']: { schema } } } : { description };
  const responses: Record<string, JsonSchema> = { [doc.ok.status]: success(doc.ok.description) };
  if (doc.also) responses[doc.also.status] = success(doc.also.description);
  for (const status of [...errors].sort()) {
    responses[String(status)] = {
      description: ERROR_DESCRIPTIONS[status] ?? 'Error',
      content: { 'application/json': { schema: { $ref: `${SCHEMA_PREFIX}Error` } } },
    };
  }
  responses['default'] = { $ref: '#/components/responses/Error' };
  const parameters: { name: string; in: string; required: boolean; schema: JsonSchema }[] = [...path.matchAll(/:([A-Za-z]+)/g)].map(([, name]) => ({
    name,
    in: 'path',
    required: true,
    schema: name === 'path' ? { type: 'string', pattern: STEP_PATH_PATTERN.source } : { type: 'string' },
  }));
  if (doc.query) parameters.push(...queryParameters(dtos[doc.query.name]));
  return {
    summary: doc.summary,
    operationId: operationId(path, doc),
    ...(permission === null ? { security: [] } : { 'x-shipdeck-permission': permission }),
    ...(parameters.length > 0 ? { parameters } : {}),
    ...(doc.body || doc.bodySchema ? { requestBody: requestBody(doc) } : {}),
    ...(doc.paged ? { 'x-shipdeck-paged': { limit: 'limit', cursor: 'cursor', next: 'nextCursor' } } : {}),
    responses,
  };
}

/** One page of a list whose whole is `list` (an array schema): `{items, nextCursor}`. */
function pageOf(list: JsonSchema): JsonSchema {
  return {
    type: 'object',
    description: 'One page; `nextCursor` is the `cursor` of the next page, null on the last.',
    required: ['items', 'nextCursor'],
    properties: { items: list, nextCursor: { type: ['string', 'null'] } },
  };
}

/** Query parameters from the query DTO's schema: one per property. */
function queryParameters(schema: JsonSchema | undefined): { name: string; in: string; required: boolean; schema: JsonSchema }[] {
  const properties = (schema?.['properties'] ?? {}) as Record<string, JsonSchema>;
  const required = new Set((schema?.['required'] as string[] | undefined) ?? []);
  return Object.entries(properties).map(([name, property]) => ({ name, in: 'query', required: required.has(name), schema: property }));
}

function requestBody(doc: RouteDoc): JsonSchema {
  const schema = doc.body ? { $ref: `${SCHEMA_PREFIX}${doc.body.name}` } : doc.bodySchema;
  return { required: true, content: Object.fromEntries((doc.bodyTypes ?? ['application/json']).map((type) => [type, { schema }])) };
}

/** A stable operation id from the summary's words, e.g. `listHosts`, for generated clients' method names. */
function operationId(path: string, doc: RouteDoc): string {
  // The summary up to a colon or parenthesis: "List hosts" → listHosts.
  const words = doc.summary.replace(/\(.*?\)|:.*$/g, '').match(/[A-Za-z]+/g) ?? [path];
  const id = words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join('');
  return id;
}
