import { PrometheusMetrics } from '@shipdeck/metrics';
import { TestServer } from '../test-support/http';
import { RestMaster, startRestMaster } from '../test-support/rest-master';

let rest: RestMaster;
let server: TestServer;
let metrics: PrometheusMetrics;
let admin: string;

beforeAll(async () => {
  metrics = new PrometheusMetrics({ component: 'master', processMetrics: false });
  rest = await startRestMaster({ metrics });
  ({ server, admin } = rest);
});

afterAll(() => rest.close());

/** The count of requests of (method, route, status) in what `/metrics` answers. */
async function requests(method: string, route: string, status: number): Promise<number> {
  const res = await server.request('GET', '/metrics');
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  const line = res.text
    .split('\n')
    .filter((l) => l.startsWith('shipdeck_http_request_duration_seconds_count{'))
    .find((l) => [`method="${method}"`, `route="${route}"`, `status="${status}"`].every((label) => l.includes(label)));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

it('serves /metrics without credentials and labels requests by route pattern, never by raw path', async () => {
  const headers = { authorization: admin };
  expect((await server.request('GET', '/api/v1/tasks/one', { headers })).status).toBe(404);
  expect((await server.request('GET', '/api/v1/tasks/two', { headers })).status).toBe(404);
  expect((await server.request('PUT', '/api/v1/tasks/three', { headers })).status).toBe(405);
  expect((await server.request('GET', '/health/live')).status).toBe(200);
  expect(await requests('GET', '/api/v1/tasks/:id', 404)).toBe(2);
  expect(await requests('PUT', '/api/v1/tasks/:id', 405)).toBe(1);
  expect(await requests('GET', '/health/live', 200)).toBe(1);
  const text = (await server.request('GET', '/metrics')).text;
  expect(text).not.toContain('/tasks/one');
});

it('counts requests stopped before routing under the API prefix, and unknown paths as unmatched', async () => {
  expect((await server.request('GET', '/api/v1/tasks')).status).toBe(401);
  expect((await server.request('GET', '/no/such/path')).status).toBe(404);
  expect(await requests('GET', '/api/v1/*', 401)).toBe(1);
  expect(await requests('GET', 'unmatched', 404)).toBe(1);
  expect(await requests('GET', '/metrics', 200)).toBeGreaterThan(0);
});
