import { ConfigError, ConflictError, ErrorCode, FieldError, PlanningError, ValidationError } from '@shipdeck/errors';
import type { WorkerView } from '@shipdeck/master-services';
import { FakeService, LogEntry, memoryLogger } from '../test-support/fake-service';
import { startTestServer, TestResponse, TestServer, waitFor } from '../test-support/http';
import { createRestApp } from './app';

interface ErrorJson {
  error: { code: string; message: string; details: FieldError[] };
}

let service: FakeService;
let server: TestServer;
let logs: LogEntry[];

beforeEach(async () => {
  service = new FakeService();
  service.hosts.set('local', { name: 'local', type: 'local', tags: [], properties: {} });
  service.environments.set('dev', { name: 'dev', hosts: ['local'], dictionary: {} });
  const { logger, entries } = memoryLogger();
  logs = entries;
  server = await startTestServer(createRestApp({ service, logger }));
});

afterEach(() => server.close());

const api = (method: string, path: string, options?: Parameters<TestServer['request']>[2]) =>
  server.request(method, `/api/v1${path}`, options);

function errorOf(res: TestResponse): ErrorJson['error'] {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/);
  return (res.json as ErrorJson).error;
}

/** Asserts a 400 VALIDATION_FAILED listing exactly these fields, one detail each. */
function expectInvalidFields(res: TestResponse, fields: string[]): FieldError[] {
  expect(res.status).toBe(400);
  const error = errorOf(res);
  expect(error.code).toBe('VALIDATION_FAILED');
  expect(error.details.map((d) => d.field).sort()).toEqual([...fields].sort());
  for (const d of error.details) expect(d.message).toEqual(expect.any(String));
  return error.details;
}

describe('health', () => {
  it('is live', async () => {
    const res = await server.request('GET', '/health/live');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'UP' });
  });

  it('is ready once the service is', async () => {
    const res = await server.request('GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'UP' });
  });

  it('answers 503 NOT_READY without the cause when the service is not ready', async () => {
    service.ready = false;
    const res = await server.request('GET', '/health/ready');
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('NOT_READY');
    expect(res.text).not.toContain('secret');
    expect(logs.some((l) => l.level === 'warn' && String(l['error']).includes('ECONNREFUSED'))).toBe(true);
  });
});

describe('hosts', () => {
  it('creates with 201, then replaces with 200', async () => {
    const first = await api('PUT', '/hosts/web1', { json: { type: 'local', tags: ['web'] } });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: 'web1', type: 'local', tags: ['web'], properties: {} });
    expect(service.lastCall('putHost')).toEqual([{ name: 'web1', type: 'local', tags: ['web'], properties: {} }]);

    const second = await api('PUT', '/hosts/web1', { json: { name: 'web1', type: 'local', properties: { a: 1 } } });
    expect(second.status).toBe(200);
    expect(service.lastCall('putHost')).toEqual([{ name: 'web1', type: 'local', tags: [], properties: { a: 1 } }]);
  });

  it('lists, gets and deletes', async () => {
    expect((await api('GET', '/hosts')).json).toEqual([{ name: 'local', type: 'local', tags: [], properties: {} }]);
    expect((await api('GET', '/hosts/local')).status).toBe(200);
    const deleted = await api('DELETE', '/hosts/local');
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = await api('GET', '/hosts/local');
    expect(gone.status).toBe(404);
    expect(errorOf(gone).code).toBe('HOST_NOT_FOUND');
  });

  it('reports a missing type', async () => {
    const details = expectInvalidFields(await api('PUT', '/hosts/x', { json: {} }), ['type']);
    expect(details[0].message).toBe('is required');
    expect(service.lastCall('putHost')).toBeUndefined();
  });

  it('reports wrong types, bad tags and unknown fields, one detail per field', async () => {
    const res = await api('PUT', '/hosts/x', { json: { type: 5, tags: ['a', 3, ''], color: 'red' } });
    const details = expectInvalidFields(res, ['type', 'tags[1]', 'tags[2]', 'color']);
    expect(details.find((d) => d.field === 'color')?.message).toBe('unknown field');
    expect(errorOf(res).message).toMatch(/^invalid request body: .*tags\[1\]/);
  });

  it('refuses a body name that differs from the path', async () => {
    expectInvalidFields(await api('PUT', '/hosts/x', { json: { name: 'y', type: 'local' } }), ['name']);
  });

  it('refuses properties that are not an object', async () => {
    expectInvalidFields(await api('PUT', '/hosts/x', { json: { type: 'local', properties: [1] } }), ['properties']);
  });
});

describe('environments', () => {
  it('creates with 201, then replaces with 200', async () => {
    const body = { hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } };
    const first = await api('PUT', '/environments/test', { json: body });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: 'test', ...body });
    const second = await api('PUT', '/environments/test', { json: { hosts: [] } });
    expect(second.status).toBe(200);
    expect(service.lastCall('putEnvironment')).toEqual([{ name: 'test', hosts: [], dictionary: {} }]);
  });

  it('lists, gets and shows what is deployed', async () => {
    expect((await api('GET', '/environments')).json).toEqual([{ name: 'dev', hosts: ['local'], dictionary: {} }]);
    expect((await api('GET', '/environments/dev')).status).toBe(200);
    const deployed = await api('GET', '/environments/dev/deployed');
    expect(deployed.status).toBe(200);
    expect(deployed.json).toEqual([{ environment: 'dev', application: 'app', version: '1.0', deployeds: [] }]);
    const missing = await api('GET', '/environments/nope/deployed');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('ENVIRONMENT_NOT_FOUND');
  });

  it('names every bad host and dictionary entry', async () => {
    const res = await api('PUT', '/environments/x', { json: { hosts: ['a', 7], dictionary: { PORT: 8080, 'a b': 1, OK: 'x' } } });
    expectInvalidFields(res, ['hosts[1]', 'dictionary.PORT', 'dictionary["a b"]']);
  });

  it('requires hosts as an array', async () => {
    expectInvalidFields(await api('PUT', '/environments/x', { json: { dictionary: {} } }), ['hosts']);
    const res = await api('PUT', '/environments/x', { json: { hosts: 'local', dictionary: [] } });
    const details = expectInvalidFields(res, ['hosts', 'dictionary']);
    expect(details.find((d) => d.field === 'hosts')?.message).toMatch(/array/);
  });
});

describe('packages', () => {
  it('imports JSON with 201', async () => {
    const res = await api('POST', '/packages', { json: { application: 'app', version: '2.0', deployables: [] } });
    expect(res.status).toBe(201);
    expect(res.json).toEqual({ application: 'app', version: '2.0', deployables: [] });
    expect(res.headers.get('location')).toBe('/api/v1/applications/app/versions');
  });

  it.each(['application/yaml', 'text/yaml', 'application/x-yaml; charset=utf-8'])('imports YAML sent as %s', async (type) => {
    const yaml = 'application: petclinic\nversion: "1.0.0"\ndeployables:\n  - name: app-config\n    type: file.File\n';
    const res = await api('POST', '/packages', { body: yaml, headers: { 'content-type': type } });
    expect(res.status).toBe(201);
    expect(service.lastCall('importPackage')).toEqual([
      { application: 'petclinic', version: '1.0.0', deployables: [{ name: 'app-config', type: 'file.File' }] },
    ]);
  });

  it('refuses malformed YAML', async () => {
    const res = await api('POST', '/packages', { body: 'a: [1, 2\nb: }', headers: { 'content-type': 'application/yaml' } });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('MALFORMED_BODY');
  });

  it('maps the service validation error with its details', async () => {
    const res = await api('POST', '/packages', { json: { deployables: [] } });
    expectInvalidFields(res, ['application', 'version']);
  });

  it('refuses another media type with 415', async () => {
    const res = await api('POST', '/packages', { body: 'application=x', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(errorOf(res).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('lists applications and versions', async () => {
    expect((await api('GET', '/applications')).json).toEqual([{ name: 'app', versions: ['1.0'] }]);
    expect((await api('GET', '/applications/app/versions')).json).toEqual(['1.0']);
    const missing = await api('GET', '/applications/zzz/versions');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('APPLICATION_NOT_FOUND');
  });
});

describe('deployments and control tasks', () => {
  const deployment = { application: 'app', version: '1.0', environment: 'dev' };

  it('previews with 200', async () => {
    const res = await api('POST', '/deployments/preview', { json: deployment });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ kind: 'INITIAL', delta: [], deployeds: [] });
  });

  it('creates a deployment with 201 {taskId, task}', async () => {
    const res = await api('POST', '/deployments', { json: { ...deployment, skipSteps: ['1-1-2'], pauseBefore: ['1'] } });
    expect(res.status).toBe(201);
    const body = res.json as { taskId: string; task: { id: string; state: string } };
    expect(body.taskId).toBe(body.task.id);
    expect(body.task.state).toBe('PENDING');
    expect(res.headers.get('location')).toBe(`/api/v1/tasks/${body.taskId}`);
    expect(service.lastCall('createDeployment')).toEqual([{ ...deployment, skipSteps: ['1-1-2'], pauseBefore: ['1'] }]);
  });

  it('reports each missing field once', async () => {
    const details = expectInvalidFields(await api('POST', '/deployments', { json: {} }), ['application', 'version', 'environment']);
    expect(details.every((d) => d.message === 'is required')).toBe(true);
  });

  it('reports wrong types, bad step paths and unknown fields', async () => {
    const res = await api('POST', '/deployments', {
      json: { application: 1, version: '', environment: 'dev', skipSteps: ['1-1', 'x'], pauseBefore: 'all', force: true },
    });
    expectInvalidFields(res, ['application', 'version', 'skipSteps[1]', 'pauseBefore', 'force']);
  });

  it('answers 404 for an unknown environment', async () => {
    const res = await api('POST', '/deployments', { json: { ...deployment, environment: 'prod' } });
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('ENVIRONMENT_NOT_FOUND');
  });

  it.each([
    ['malformed JSON', '{"application": "app",', 'application/json'],
    ['an array', '[1, 2]', 'application/json'],
    ['null', 'null', 'application/json'],
    ['a string', '"app"', 'application/json'],
    ['an empty body', '', 'application/json'],
    ['invalid UTF-8', new Uint8Array([0x7b, 0xff, 0x7d]), 'application/json'],
  ])('answers MALFORMED_BODY for %s', async (_what, body, type) => {
    const res = await api('POST', '/deployments', { body, headers: { 'content-type': type } });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('MALFORMED_BODY');
    expect(service.lastCall('createDeployment')).toBeUndefined();
  });

  it.each([
    ['text/plain', 'text/plain'],
    ['YAML, which only /packages takes', 'application/yaml'],
    ['a foreign charset', 'application/json; charset=latin1'],
  ])('answers 415 for %s', async (_what, type) => {
    const res = await api('POST', '/deployments', { body: JSON.stringify(deployment), headers: { 'content-type': type } });
    expect(res.status).toBe(415);
    expect(errorOf(res).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('answers 415 for a body without Content-Type', async () => {
    // fetch labels string bodies text/plain; a Uint8Array goes without a Content-Type.
    const res = await api('POST', '/deployments', { body: new TextEncoder().encode(JSON.stringify(deployment)) });
    expect(res.status).toBe(415);
    expect(errorOf(res).message).toMatch(/Content-Type/);
  });

  it('creates an undeployment with 201', async () => {
    const res = await api('POST', '/undeployments', { json: { application: 'app', environment: 'dev' } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ taskId: expect.any(String), task: { state: 'PENDING' } });
    expectInvalidFields(await api('POST', '/undeployments', { json: { application: 'app', version: '1' } }), [
      'environment',
      'version',
    ]);
  });

  it('creates a control task with 201', async () => {
    const json = { target: 'local', control: 'checkConnection', parameters: { timeout: 5 } };
    const res = await api('POST', '/control-tasks', { json });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ task: { type: 'CONTROL' } });
    expect(service.lastCall('createControlTask')).toEqual([json]);
    const bad = await api('POST', '/control-tasks', { json: { target: 'local', control: 'x', parameters: [] } });
    expectInvalidFields(bad, ['parameters']);
  });

  it('maps planning errors to 400 with their details', async () => {
    service.createDeployment = async () => {
      throw new PlanningError('cannot plan', [{ field: 'dictionary.DB_URL', message: 'unresolved placeholder' }]);
    };
    const res = await api('POST', '/deployments', { json: deployment });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toEqual({
      code: 'PLANNING_FAILED',
      message: 'cannot plan',
      details: [{ field: 'dictionary.DB_URL', message: 'unresolved placeholder' }],
    });
  });

  it('maps an unknown CI type to 400', async () => {
    service.createDeployment = async () => {
      throw new ValidationError('no such type', [], ErrorCode.UNKNOWN_CI_TYPE);
    };
    const res = await api('POST', '/deployments', { json: deployment });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('UNKNOWN_CI_TYPE');
  });
});

describe('tasks', () => {
  it('lists with validated filters', async () => {
    service.addTask('PENDING', 'a');
    service.addTask('EXECUTING', 'b');
    const all = await api('GET', '/tasks');
    expect(all.status).toBe(200);
    expect((all.json as { id: string }[]).map((t) => t.id)).toEqual(['a', 'b']);
    const filtered = await api('GET', '/tasks?state=EXECUTING&type=DEPLOYMENT&worker=w1');
    expect((filtered.json as { id: string }[]).map((t) => t.id)).toEqual(['b']);
    expect(service.lastCall('listTasks')).toEqual([{ state: 'EXECUTING', type: 'DEPLOYMENT', worker: 'w1' }]);
    expect((await api('GET', '/tasks?state=UNKNOWN')).status).toBe(200);
  });

  it.each([
    ['state=BOGUS', ['state']],
    ['type=deployment', ['type']],
    ['state=PENDING&state=QUEUED', ['state']],
    ['sort=asc', ['sort']],
    ['state=&type=X', ['state', 'type']],
  ])('refuses the query %s', async (query, fields) => {
    expectInvalidFields(await api('GET', `/tasks?${query}`), fields);
    expect(service.lastCall('listTasks')).toBeUndefined();
  });

  it('gets a task, 404 TASK_NOT_FOUND for an unknown id', async () => {
    service.addTask('PENDING', 't1');
    const res = await api('GET', '/tasks/t1');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: 't1', state: 'PENDING', plan: { phases: [expect.any(Object)] } });
    const missing = await api('GET', '/tasks/nope');
    expect(missing.status).toBe(404);
    expect(errorOf(missing)).toEqual({ code: 'TASK_NOT_FOUND', message: 'task nope does not exist', details: [] });
  });

  it.each([
    ['start', 'PENDING', 'QUEUED'],
    ['stop', 'EXECUTING', 'STOPPING'],
    ['abort', 'EXECUTING', 'ABORTING'],
    ['cancel', 'FAILED', 'CANCELLING'],
    ['archive', 'EXECUTED', 'DONE'],
  ] as const)('%s answers 200 with the task view', async (operation, from, to) => {
    service.addTask(from, 't1');
    const res = await api('POST', `/tasks/t1/${operation}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: 't1', state: to });
    expect(service.lastCall('operate')).toEqual(['t1', operation, undefined]);
  });

  it('answers 409 ILLEGAL_TRANSITION for an operation the state does not allow', async () => {
    service.addTask('EXECUTING', 't1');
    const res = await api('POST', '/tasks/t1/start');
    expect(res.status).toBe(409);
    expect(errorOf(res)).toMatchObject({ code: 'ILLEGAL_TRANSITION', message: 'cannot start a task in state EXECUTING' });
  });

  it('answers 404 for an operation on an unknown task', async () => {
    const res = await api('POST', '/tasks/nope/stop');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('TASK_NOT_FOUND');
  });

  it('schedules at an ISO date', async () => {
    service.addTask('PENDING', 't1');
    const res = await api('POST', '/tasks/t1/schedule', { json: { at: '2030-01-31T18:00:00Z' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: 'SCHEDULED' });
    const [, operation, options] = service.lastCall('operate')!;
    expect(operation).toBe('schedule');
    expect((options as { at: Date }).at.toISOString()).toBe('2030-01-31T18:00:00.000Z');
  });

  it.each([{}, { at: 'tomorrow' }, { at: '2030-02-31T00:00:00Z' }, { at: 1893456000000 }])(
    'refuses the schedule body %j',
    async (json) => {
      service.addTask('PENDING', 't1');
      expectInvalidFields(await api('POST', '/tasks/t1/schedule', { json }), ['at']);
    },
  );

  it('serves a step log as text', async () => {
    service.addTask('FAILED', 't1');
    const res = await api('GET', '/tasks/t1/steps/1-1-1/log');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toBe('log of 1-1-1\nline 2\n');
    const missing = await api('GET', '/tasks/t1/steps/9-9-9/log');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('STEP_NOT_FOUND');
  });

  it.each(['abc', '1-2-3-4', '1--2', '-1', '1.2'])('refuses the step path %s', async (path) => {
    service.addTask('PENDING', 't1');
    const res = await api('GET', `/tasks/t1/steps/${path}/log`);
    expectInvalidFields(res, ['path']);
    const skip = await api('POST', `/tasks/t1/steps/${path}/skip`);
    expectInvalidFields(skip, ['path']);
    expect(service.lastCall('readStepLog')).toBeUndefined();
    expect(service.lastCall('skipStep')).toBeUndefined();
  });

  it.each([
    ['skip', 'skipStep'],
    ['unskip', 'unskipStep'],
    ['pause-before', 'pauseBefore'],
  ] as const)('%s a step answers 200 with the task view', async (change, method) => {
    service.addTask('PENDING', 't1');
    const res = await api('POST', `/tasks/t1/steps/1-1-2/${change}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: 't1' });
    expect(service.lastCall(method)).toEqual(['t1', '1-1-2']);
  });

  it('removes a task with 204', async () => {
    service.addTask('EXECUTING', 't1');
    const res = await api('DELETE', '/tasks/t1');
    expect(res.status).toBe(204);
    expect(service.tasks.has('t1')).toBe(false);
  });

  it('maps a conflict to 409', async () => {
    service.removeTask = async () => {
      throw new ConflictError('task t1 is not UNKNOWN');
    };
    const res = await api('DELETE', '/tasks/t1');
    expect(res.status).toBe(409);
    expect(errorOf(res).code).toBe('CONFLICT');
  });
});

describe('workers', () => {
  const worker = (id: string, state: WorkerView['state']): WorkerView => ({
    id,
    name: id,
    address: `${id}:9000`,
    state,
    deploymentTasks: 1,
    controlTasks: 2,
    configHash: 'abc',
    capacity: 4,
    lastSeen: '2030-01-01T00:00:00.000Z',
  });

  it('lists workers', async () => {
    service.workers.set('w1', worker('w1', 'CONNECTED'));
    const res = await api('GET', '/workers');
    expect(res.status).toBe(200);
    expect(res.json).toEqual([worker('w1', 'CONNECTED')]);
  });

  it('drains a worker, and answers 404 for an unknown one', async () => {
    service.workers.set('w1', worker('w1', 'CONNECTED'));
    const res = await api('POST', '/workers/w1/drain');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ message: 'worker w1 is draining' });
    const unknown = await api('POST', '/workers/nope/drain');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBe('WORKER_NOT_FOUND');
  });

  it('forgets only a DISCONNECTED worker', async () => {
    service.workers.set('w1', worker('w1', 'CONNECTED'));
    service.workers.set('w2', worker('w2', 'DISCONNECTED'));
    expect((await api('DELETE', '/workers/w1')).status).toBe(409);
    expect((await api('DELETE', '/workers/w2')).status).toBe(204);
    expect(service.workers.has('w2')).toBe(false);
  });

  it('restores ghost tasks', async () => {
    const res = await api('POST', '/workers/restore-ghost-tasks');
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ tasks: ['t9'] });
  });
});

describe('archive and server', () => {
  it('lists the archive with a validated filter', async () => {
    const res = await api('GET', '/archive/tasks?from=2030-01-01&to=2030-02-01T00:00:00Z&application=app&environment=dev');
    expect(res.status).toBe(200);
    expect(res.json).toEqual([]);
    expect(service.lastCall('listArchive')).toEqual([
      { from: '2030-01-01', to: '2030-02-01T00:00:00Z', application: 'app', environment: 'dev' },
    ]);
  });

  it('refuses bad dates and an inverted range', async () => {
    expectInvalidFields(await api('GET', '/archive/tasks?from=yesterday&to=2030-13-01'), ['from', 'to']);
    expectInvalidFields(await api('GET', '/archive/tasks?from=2030-02-01&to=2030-01-01'), ['to']);
  });

  it('tells server info', async () => {
    const res = await api('GET', '/server/info');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: '0.1.0', role: 'master', id: 'm1', configHash: 'abc', inProcessWorker: true });
  });
});

describe('errors', () => {
  it.each(['/api/v1/nope', '/nope', '/api/v2/tasks', '/api/v1/tasks/t1/steps'])('answers 404 NOT_FOUND JSON for %s', async (path) => {
    const res = await server.request('GET', path);
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('NOT_FOUND');
  });

  it('answers 405 with Allow for a wrong method on a known path', async () => {
    const res = await api('PATCH', '/hosts/local');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE, HEAD, OPTIONS');
    expect(errorOf(res).message).toMatch(/PATCH/);
    expect(errorOf(res).code).toBe('METHOD_NOT_ALLOWED');
    expect((await api('DELETE', '/tasks')).status).toBe(405);
    expect((await api('GET', '/tasks/t1/start')).status).toBe(405);
    const options = await api('OPTIONS', '/deployments');
    expect(options.status).toBe(204);
    expect(options.headers.get('allow')).toBe('POST, OPTIONS');
  });

  it('answers 413 JSON for a body over 5 MB', async () => {
    const big = JSON.stringify({ application: 'x'.repeat(5 * 1024 * 1024), version: '1', environment: 'dev' });
    const res = await api('POST', '/deployments', { body: big, headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(413);
    expect(errorOf(res).code).toBe('PAYLOAD_TOO_LARGE');
    expect(errorOf(res).message).toMatch(/5 MB/);
  });

  it('accepts a body just under the limit', async () => {
    const json = { application: 'app', version: '1.0', environment: 'dev', pad: '' };
    json.pad = 'x'.repeat(5 * 1024 * 1024 - JSON.stringify(json).length);
    const res = await api('POST', '/deployments', { json });
    // Reaches validation: the only complaint is the unknown field.
    expectInvalidFields(res, ['pad']);
  });

  it('answers 400 for a path with a bad escape', async () => {
    const res = await api('GET', '/hosts/%E0%A4%A');
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('VALIDATION_FAILED');
  });

  it('answers 500 INTERNAL without internals and logs the error in full', async () => {
    service.getTask = async () => {
      throw new Error('connection to postgres://admin:hunter2@db failed');
    };
    const res = await api('GET', '/tasks/t1', { headers: { 'x-request-id': 'req-42' } });
    expect(res.status).toBe(500);
    const error = errorOf(res);
    expect(error.code).toBe('INTERNAL');
    expect(error.message).toBe('internal error; the server log has the details (request req-42)');
    expect(res.text).not.toMatch(/hunter2|postgres|at .*\.ts/);
    const logged = logs.find((l) => l.level === 'error');
    expect(logged?.message).toContain('hunter2');
    expect(logged?.['stack']).toEqual(expect.stringContaining('app.spec.ts'));
    expect(logged?.['requestId']).toBe('req-42');
  });

  it('answers 500 for something thrown that is not an Error', async () => {
    service.listHosts = async () => {
      throw 'raw string';
    };
    const res = await api('GET', '/hosts');
    expect(res.status).toBe(500);
    expect(errorOf(res).code).toBe('INTERNAL');
  });

  it('maps CONFIG_INVALID to 500 with its message', async () => {
    service.listHosts = async () => {
      throw new ConfigError('plugins differ');
    };
    const res = await api('GET', '/hosts');
    expect(res.status).toBe(500);
    expect(errorOf(res)).toMatchObject({ code: 'CONFIG_INVALID', message: 'plugins differ' });
  });

  it('writes one access log line per request at debug level', async () => {
    const res = await api('GET', '/hosts?x=1');
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => logs.some((l) => l['requestId'] === requestId && l['status'] === 200));
    const lines = logs.filter((l) => l['requestId'] === requestId);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'debug', method: 'GET', url: '/api/v1/hosts?x=1', status: 200, durationMs: expect.any(Number) }),
    ]);
  });
});
