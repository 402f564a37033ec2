/**
 * The check every process-level test applies to a master's answers (openapi-check.ts), against
 * the document the master generates: it passes what the document allows and names the route,
 * the status and the mismatch of what it does not.
 */
import { buildOpenApiDocument } from '@shipdeck/rest-api';
import { OpenApiCheck, ReceivedAnswer } from '../support/openapi-check';

const check = new OpenApiCheck(buildOpenApiDocument('0.0.0-test'));
const BASE = 'http://127.0.0.1:4516';
const error = (code: string) => ({ error: { code, message: 'm', details: [] } });
const answer = (method: string, path: string, status: number, body: unknown, contentType = 'application/json'): ReceivedAnswer => ({
  method,
  url: `${BASE}${path}`,
  status,
  contentType,
  body,
  isJson: contentType.includes('json'),
});

it('passes documented answers: statuses, bodies, text answers, 5xx and 405 in the error shape', () => {
  expect(check.problems(answer('GET', '/api/v1/tasks/t1', 404, error('TASK_NOT_FOUND')))).toEqual([]);
  expect(check.problems(answer('GET', '/api/v1/tasks?limit=2', 200, { items: [], nextCursor: null }))).toEqual([]);
  expect(check.problems(answer('GET', '/api/v1/tasks/t1/steps/1-1-1/log', 200, 'x', 'text/plain; charset=utf-8'))).toEqual([]);
  expect(check.problems(answer('GET', '/api/v1/hosts', 503, error('NOT_READY')))).toEqual([]);
  expect(check.problems(answer('PATCH', '/api/v1/hosts', 405, error('METHOD_NOT_ALLOWED')))).toEqual([]);
  expect(check.problems(answer('GET', '/api/v1/no-such-route', 404, error('NOT_FOUND')))).toEqual([]);
});

it('names an undocumented status, a body that does not match, and a wrong media type', () => {
  expect(check.problems(answer('DELETE', '/api/v1/hosts/h1', 418, error('TEAPOT')))).toEqual([
    expect.stringMatching(/^DELETE \/api\/v1\/hosts\/\{name\}: status 418 is not documented \(documented: 204, 401, 403, 404, 409, default\)$/),
  ]);
  expect(check.problems(answer('GET', '/api/v1/tasks', 200, { items: 'none' }))).toEqual([
    expect.stringContaining("GET /api/v1/tasks 200: body must have required property 'nextCursor'"),
    expect.stringContaining('GET /api/v1/tasks 200: body/items must be array'),
  ]);
  expect(check.problems(answer('GET', '/api/v1/tasks/t1', 404, { message: 'gone' }))).toEqual([expect.stringContaining("body must have required property 'error'")]);
  expect(check.problems(answer('GET', '/api/v1/tasks/t1/steps/1-1-1/log', 200, { log: 'x' }))).toEqual([
    'GET /api/v1/tasks/{id}/steps/{path}/log 200: answered JSON, documented text/plain',
  ]);
  expect(check.problems(answer('POST', '/api/v1/tasks/t1/events', 201, error('X')))).toEqual([
    'POST /api/v1/tasks/{id}/events is not in the document, yet the master answered 201',
  ]);
});
