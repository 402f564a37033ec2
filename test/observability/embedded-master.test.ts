/**
 * The bundled master of the embedded default (issue 15): its `/metrics` includes its in-process
 * worker, and the OpenAPI document and reference page are served by the bundle as by the sources
 * (the bundle has no decorator metadata, and swagger-ui-dist is found at run time).
 */
import type { OpenApiDocument } from '@shipdeck/rest-api';
import { StandaloneMaster, cleanupAllMasters, startMaster } from '../support/master-process';
import { expectStatus, request } from '../support/rest-client';

let master: StandaloneMaster;

beforeAll(async () => {
  master = await startMaster({ env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '2' } });
}, 60_000);

afterAll(() => cleanupAllMasters());

const open = { authorization: null };

it('serves /metrics with the in-process worker\'s gauges and the process metrics, without credentials', async () => {
  const res = await request('GET', `${master.url}/metrics`, undefined, open);
  const text = expectStatus(res, 200, 'GET /metrics: ');
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  expect(text).toMatch(/^shipdeck_worker_capacity\{component="master"\} 2$/m);
  expect(text).toMatch(/^shipdeck_workers\{state="CONNECTED",component="master"\} 1$/m);
  expect(text).toMatch(/^process_cpu_user_seconds_total\{component="master"\} /m);
});

it('serves the OpenAPI document with the DTO schemas, and the reference page', async () => {
  const document = expectStatus(await request<OpenApiDocument>('GET', `${master.url}/api/v1/openapi.json`, undefined, open), 200);
  expect(document.openapi).toBe('3.1.0');
  expect(document.components.schemas['DeploymentBody']).toMatchObject({
    required: ['application', 'version', 'environment'],
    properties: { skipSteps: { type: 'array' } },
  });
  expect(document.paths['/api/v1/deployments']?.['post']?.['requestBody']).toBeDefined();
  const page = await request('GET', `${master.url}/api-docs/`, undefined, open);
  expect(expectStatus(page, 200)).toContain('<div id="swagger-ui">');
  expectStatus(await request('GET', `${master.url}/api-docs/swagger-ui-bundle.js`, undefined, open), 200);
});
