import { ConfigError, FieldError } from '@shipdeck/errors';
import {
  GRACE_PERIOD_MS,
  InMemoryMaster,
  fakeSession,
  petclinicManifest,
} from '@shipdeck/master-services/testing';
import { TaskState, TaskView } from '@shipdeck/tasks';
import { TestResponse, TestServer, waitFor } from '../test-support/http';
import { LogEntry } from '../test-support/memory-logger';
import { RestMaster, startRestMaster } from '../test-support/rest-master';

/*
 * The REST app in front of the real master services, over an in-memory SQLite database and the
 * in-process queue: what a request answers is what the product answers.
 */

interface ErrorJson {
  error: { code: string; message: string; details: FieldError[] };
}

let rest: RestMaster;
let master: InMemoryMaster;
let server: TestServer;
let logs: LogEntry[];

async function serve(mode: 'embedded' | 'cluster' = 'embedded'): Promise<void> {
  rest = await startRestMaster({ mode, seedCatalog: true, asAdmin: true });
  ({ master, server, logs } = rest);
}

afterEach(() => rest.close());

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

const deployment = { application: 'petclinic', version: '1.0.0', environment: 'dev' };

/**
 * Imports petclinic 1.0.0 and creates its deployment task (PENDING): to `dev`, or to a new
 * environment of its own when `dev` already has an unfinished one (one at a time per environment).
 */
async function pendingDeployment(): Promise<TaskView> {
  await master.services.catalog.importPackage(petclinicManifest());
  const unfinished = await master.services.tasks.listTasks({ type: 'DEPLOYMENT' });
  if (unfinished.length === 0) return master.services.deployments.createDeployment(deployment);
  const environment = `dev-${unfinished.length + 1}`;
  await master.services.catalog.putEnvironment({ name: environment, hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } });
  return master.services.deployments.createDeployment({ ...deployment, environment });
}

/** A deployment task in `state`, owned by the in-process worker when it is past QUEUED. */
async function taskIn(state: TaskState): Promise<TaskView> {
  const task = await pendingDeployment();
  if (state === 'PENDING') return task;
  const workerId = master.worker.workerId;
  expect(await master.stores.tasks.compareAndSet(task.id, 'PENDING', { state, workerId })).not.toBeNull();
  return master.services.tasks.getTask(task.id);
}

/** The items of a list answer that fits one page (spec §6: `{items, nextCursor}`). */
function items<T = unknown>(res: TestResponse): T[] {
  expect(res.status).toBe(200);
  const page = res.json as { items: T[]; nextCursor: string | null };
  expect(page.nextCursor).toBeNull();
  return page.items;
}

async function tasksListed(): Promise<unknown> {
  return items(await api('GET', '/tasks'));
}

describe('health', () => {
  beforeEach(() => serve());

  it('is live', async () => {
    const res = await server.request('GET', '/health/live');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'UP' });
  });

  it('is ready once the database and the queue are', async () => {
    const res = await server.request('GET', '/health/ready');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ status: 'UP' });
  });

  it('answers 503 NOT_READY without the cause when the database does not answer', async () => {
    jest.spyOn(master.stores, 'ping').mockRejectedValue(new Error('connect ECONNREFUSED 10.0.0.1:5432 password=secret'));
    const res = await server.request('GET', '/health/ready');
    expect(res.status).toBe(503);
    expect(errorOf(res).code).toBe('NOT_READY');
    expect(res.text).not.toContain('secret');
    expect(logs.some((l) => l.level === 'warn' && String(l['error']).includes('ECONNREFUSED'))).toBe(true);
  });
});

describe('hosts', () => {
  beforeEach(() => serve());

  it('creates with 201, then replaces with 200', async () => {
    const first = await api('PUT', '/hosts/web1', { json: { type: 'local', tags: ['web'] } });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: 'web1', type: 'local', tags: ['web'], properties: {} });

    const second = await api('PUT', '/hosts/web1', { json: { name: 'web1', type: 'local', properties: { a: 1 } } });
    expect(second.status).toBe(200);
    expect((await api('GET', '/hosts/web1')).json).toEqual({ name: 'web1', type: 'local', tags: [], properties: { a: 1 } });
  });

  it('lists, gets and deletes', async () => {
    expect(items(await api('GET', '/hosts'))).toEqual([{ name: 'local', type: 'local', tags: [], properties: {} }]);
    expect((await api('GET', '/hosts/local')).status).toBe(200);
    await api('PUT', '/hosts/web1', { json: { type: 'local' } });
    const deleted = await api('DELETE', '/hosts/web1');
    expect(deleted.status).toBe(204);
    expect(deleted.text).toBe('');
    const gone = await api('GET', '/hosts/web1');
    expect(gone.status).toBe(404);
    expect(errorOf(gone).code).toBe('HOST_NOT_FOUND');
    expect(errorOf(await api('DELETE', '/hosts/web1')).code).toBe('HOST_NOT_FOUND');
  });

  it('reports a missing type and stores nothing', async () => {
    const details = expectInvalidFields(await api('PUT', '/hosts/x', { json: {} }), ['type']);
    expect(details[0].message).toBe('is required');
    expect((await api('GET', '/hosts/x')).status).toBe(404);
  });

  it('reports wrong types, bad tags and unknown fields, one detail per field', async () => {
    const res = await api('PUT', '/hosts/x', { json: { type: 5, tags: ['a', 3, ''], color: 'red' } });
    const details = expectInvalidFields(res, ['type', 'tags[1]', 'tags[2]', 'color']);
    expect(details.find((d) => d.field === 'color')?.message).toBe('unknown field');
    expect(details.find((d) => d.field === 'type')?.message).toBe('must be a string');
    expect(errorOf(res).message).toMatch(/^invalid request body: .*tags\[1\]/);
  });

  it('refuses a body name that differs from the path', async () => {
    expectInvalidFields(await api('PUT', '/hosts/x', { json: { name: 'y', type: 'local' } }), ['name']);
  });

  it('refuses properties that are not an object', async () => {
    expectInvalidFields(await api('PUT', '/hosts/x', { json: { type: 'local', properties: [1] } }), ['properties']);
  });

  it('answers 400 UNKNOWN_CI_TYPE for a host type no plugin provides', async () => {
    const res = await api('PUT', '/hosts/x', { json: { type: 'mainframe' } });
    expect(res.status).toBe(400);
    expect(errorOf(res)).toMatchObject({ code: 'UNKNOWN_CI_TYPE', details: [{ field: 'type' }] });
  });
});

describe('environments', () => {
  beforeEach(() => serve());

  it('creates with 201, then replaces with 200', async () => {
    const body = { hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } };
    const first = await api('PUT', '/environments/test', { json: body });
    expect(first.status).toBe(201);
    expect(first.json).toEqual({ name: 'test', secrets: {}, ...body });
    const second = await api('PUT', '/environments/test', { json: { hosts: [] } });
    expect(second.status).toBe(200);
    expect((await api('GET', '/environments/test')).json).toEqual({ name: 'test', hosts: [], dictionary: {}, secrets: {} });
  });

  it('lists, gets and shows what is deployed', async () => {
    expect(items(await api('GET', '/environments'))).toEqual([{ name: 'dev', hosts: ['local'], dictionary: { APP_HOME: '/opt/app' }, secrets: {} }]);
    expect((await api('GET', '/environments/dev')).status).toBe(200);
    const deployed = await api('GET', '/environments/dev/deployed');
    expect(items(deployed)).toEqual([]);
    const missing = await api('GET', '/environments/nope/deployed');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('ENVIRONMENT_NOT_FOUND');
  });

  it('names every bad host and dictionary entry', async () => {
    const res = await api('PUT', '/environments/x', { json: { hosts: ['a', 7], dictionary: { PORT: 8080, 'a b': 1, OK: 'x' } } });
    expectInvalidFields(res, ['hosts[1]', 'dictionary.PORT', 'dictionary["a b"]']);
  });

  it('names every host that does not exist', async () => {
    const res = await api('PUT', '/environments/x', { json: { hosts: ['local', 'web9'] } });
    const [detail] = expectInvalidFields(res, ['hosts[1]']);
    expect(detail.message).toMatch(/^host web9 does not exist/);
  });

  it('requires hosts as an array', async () => {
    expectInvalidFields(await api('PUT', '/environments/x', { json: { dictionary: {} } }), ['hosts']);
    const res = await api('PUT', '/environments/x', { json: { hosts: 'local', dictionary: [] } });
    const details = expectInvalidFields(res, ['hosts', 'dictionary']);
    expect(details.find((d) => d.field === 'hosts')?.message).toMatch(/array/);
  });
});

describe('packages', () => {
  beforeEach(() => serve());

  it('imports JSON with 201', async () => {
    const res = await api('POST', '/packages', { json: petclinicManifest('2.0.0') });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ application: 'petclinic', version: '2.0.0', deployables: [{ name: 'app' }, { name: 'app-config' }] });
    expect(res.headers.get('location')).toBe('/api/v1/applications/petclinic/versions');
  });

  it.each(['application/yaml', 'text/yaml', 'application/x-yaml; charset=utf-8'])('imports YAML sent as %s', async (type) => {
    const yaml =
      'application: petclinic\nversion: "1.0.0"\ndeployables:\n  - name: app-config\n    type: file.File\n' +
      '    targetPath: "{{APP_HOME}}/app.conf"\n    content: "pool=5"\n';
    const res = await api('POST', '/packages', { body: yaml, headers: { 'content-type': type } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ application: 'petclinic', version: '1.0.0', deployables: [{ name: 'app-config', type: 'file.File' }] });
  });

  it('refuses malformed YAML', async () => {
    const res = await api('POST', '/packages', { body: 'a: [1, 2\nb: }', headers: { 'content-type': 'application/yaml' } });
    expect(res.status).toBe(400);
    expect(errorOf(res).code).toBe('MALFORMED_BODY');
  });

  it("answers the manifest's validation error with its details", async () => {
    const res = await api('POST', '/packages', { json: { deployables: [] } });
    expect(res.status).toBe(400);
    expect(errorOf(res).details.map((d) => d.field)).toEqual(expect.arrayContaining(['application', 'version']));
  });

  it('refuses another media type with 415', async () => {
    const res = await api('POST', '/packages', { body: 'application=x', headers: { 'content-type': 'text/plain' } });
    expect(res.status).toBe(415);
    expect(errorOf(res).code).toBe('UNSUPPORTED_MEDIA_TYPE');
  });

  it('lists applications and versions', async () => {
    await api('POST', '/packages', { json: petclinicManifest('1.0.0') });
    expect(items(await api('GET', '/applications'))).toEqual([{ name: 'petclinic', versions: ['1.0.0'] }]);
    expect(items(await api('GET', '/applications/petclinic/versions'))).toEqual(['1.0.0']);
    const missing = await api('GET', '/applications/zzz/versions');
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('APPLICATION_NOT_FOUND');
  });
});

describe('deployments and control tasks', () => {
  beforeEach(async () => {
    await serve();
    await master.services.catalog.importPackage(petclinicManifest());
  });

  it('previews with 200 and creates nothing', async () => {
    const res = await api('POST', '/deployments/preview', { json: deployment });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ kind: 'INITIAL', delta: [{ operation: 'CREATE' }, { operation: 'CREATE' }] });
    expect(await tasksListed()).toEqual([]);
  });

  it('creates a deployment with 201 {taskId, task}', async () => {
    const res = await api('POST', '/deployments', { json: { ...deployment, skipSteps: ['1-1-1'], pauseBefore: ['1-2-1'] } });
    expect(res.status).toBe(201);
    const body = res.json as { taskId: string; task: TaskView };
    expect(body.taskId).toBe(body.task.id);
    expect(body.task).toMatchObject({ state: 'PENDING', description: 'Deploy petclinic 1.0.0 to dev' });
    expect(body.task.steps.map((s) => [s.state, s.pauseBefore])).toEqual([
      ['SKIPPED', false],
      ['PENDING', true],
    ]);
    expect(res.headers.get('location')).toBe(`/api/v1/tasks/${body.taskId}`);
    // The task view adds who acted on the task, from the audit trail (written as the creation was answered).
    const nobody = { startedBy: null, stoppedBy: null, cancelledBy: null, archivedBy: null };
    const createdBy = { user: expect.any(String), at: expect.any(String) };
    expect((await api('GET', `/tasks/${body.taskId}`)).json).toEqual({ ...body.task, actors: { createdBy, ...nobody } });
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

  it('names a step path the plan does not have', async () => {
    expectInvalidFields(await api('POST', '/deployments', { json: { ...deployment, skipSteps: ['1-1-1', '4'] } }), ['skipSteps[1]']);
    expect(await tasksListed()).toEqual([]);
  });

  it('answers 404 for an unknown environment, application or version', async () => {
    const codes = [];
    for (const change of [{ environment: 'prod' }, { application: 'nope' }, { version: '9' }]) {
      const res = await api('POST', '/deployments', { json: { ...deployment, ...change } });
      expect(res.status).toBe(404);
      codes.push(errorOf(res).code);
    }
    expect(codes).toEqual(['ENVIRONMENT_NOT_FOUND', 'APPLICATION_NOT_FOUND', 'VERSION_NOT_FOUND']);
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
    expect(await tasksListed()).toEqual([]);
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

  it('creates an undeployment with 201 once the application is deployed, 404 NOT_DEPLOYED before', async () => {
    const undeployment = { application: 'petclinic', environment: 'dev' };
    const before = await api('POST', '/undeployments', { json: undeployment });
    expect(before.status).toBe(404);
    expect(errorOf(before).code).toBe('NOT_DEPLOYED');

    const executed = await master.services.deployments.createDeployment(deployment);
    await master.stores.tasks.compareAndSet(executed.id, 'PENDING', { state: 'EXECUTED' });
    expect((await api('POST', `/tasks/${executed.id}/archive`)).status).toBe(200);
    const res = await api('POST', '/undeployments', { json: undeployment });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ taskId: expect.any(String), task: { state: 'PENDING', kind: 'UNDEPLOY' } });
    expectInvalidFields(await api('POST', '/undeployments', { json: { application: 'app', version: '1' } }), [
      'environment',
      'version',
    ]);
  });

  it('creates a control task with 201', async () => {
    const res = await api('POST', '/control-tasks', { json: { target: 'local', control: 'checkConnection' } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ task: { type: 'CONTROL', description: 'checkConnection on local' } });
    const bad = await api('POST', '/control-tasks', { json: { target: 'local', control: 'x', parameters: [] } });
    expectInvalidFields(bad, ['parameters']);
    const unknownHost = await api('POST', '/control-tasks', { json: { target: 'nope', control: 'checkConnection' } });
    expect(errorOf(unknownHost).code).toBe('HOST_NOT_FOUND');
  });

  it('starts a task it creates with start: true, in one request, and names the creator as its starter', async () => {
    const res = await api('POST', '/control-tasks', { json: { target: 'local', control: 'checkConnection', start: true } });
    expect(res.status).toBe(201);
    const body = res.json as { taskId: string; task: TaskView };
    expect(body.task.state).toBe('QUEUED');
    expect(body.task.queuedAt).toEqual(expect.any(String));
    const actor = { user: 'admin', at: expect.any(String) };
    const shown = (await api('GET', `/tasks/${body.taskId}`)).json as TaskView & { actors: Record<string, unknown> };
    expect(shown.actors).toMatchObject({ createdBy: actor, startedBy: actor });
    // Without start the task stays PENDING and nobody started it.
    const pending = (await api('POST', '/control-tasks', { json: { target: 'local', control: 'checkConnection', start: false } })).json as { taskId: string; task: TaskView };
    expect(pending.task.state).toBe('PENDING');
    expect(((await api('GET', `/tasks/${pending.taskId}`)).json as { actors: Record<string, unknown> }).actors).toMatchObject({ startedBy: null });
  });

  it('starts a new deployment and undeployment with start: true; refuses a start that is not a boolean', async () => {
    await master.services.catalog.importPackage(petclinicManifest());
    const res = await api('POST', '/deployments', { json: { ...deployment, start: true } });
    expect(res.status).toBe(201);
    expect(res.json).toMatchObject({ task: { state: 'QUEUED', kind: 'INITIAL' } });
    // Deployed to another environment and archived: then it can be undeployed there.
    await master.services.catalog.putEnvironment({ name: 'other', hosts: ['local'], dictionary: { APP_HOME: '/opt/app' } });
    const deployed = await master.services.deployments.createDeployment({ ...deployment, environment: 'other' });
    await master.stores.tasks.compareAndSet(deployed.id, 'PENDING', { state: 'EXECUTED' });
    expect((await api('POST', `/tasks/${deployed.id}/archive`)).status).toBe(200);
    const undeploy = await api('POST', '/undeployments', { json: { application: 'petclinic', environment: 'other', start: true } });
    expect(undeploy.status).toBe(201);
    expect(undeploy.json).toMatchObject({ task: { state: 'QUEUED', kind: 'UNDEPLOY' } });
    const details = expectInvalidFields(await api('POST', '/control-tasks', { json: { target: 'local', control: 'checkConnection', start: 'yes' } }), ['start']);
    expect(details[0].message).toBe('must be true or false');
    expectInvalidFields(await api('POST', '/deployments/preview', { json: { ...deployment, start: true } }), ['start']);
  });

  it('maps planning errors to 400 with their details', async () => {
    await master.services.catalog.putEnvironment({ name: 'bare', hosts: ['local'], dictionary: {} });
    const res = await api('POST', '/deployments', { json: { ...deployment, environment: 'bare' } });
    expect(res.status).toBe(400);
    const error = errorOf(res);
    expect(error.code).toBe('PLANNING_FAILED');
    expect(error.details.length).toBeGreaterThan(0);
    expect(error.details.every((d) => d.message.includes('APP_HOME'))).toBe(true);
  });
});

describe('tasks', () => {
  beforeEach(() => serve());

  it('lists with validated filters', async () => {
    const a = await taskIn('PENDING');
    master.clock.advance(1_000);
    const b = await taskIn('EXECUTING');
    const all = await api('GET', '/tasks');
    expect(items<TaskView>(all).map((t) => t.id)).toEqual([a.id, b.id]);
    const filtered = await api('GET', `/tasks?state=EXECUTING&type=DEPLOYMENT&worker=${master.worker.workerId}`);
    expect(items<TaskView>(filtered).map((t) => t.id)).toEqual([b.id]);
    expect(items(await api('GET', '/tasks?worker=someone-else'))).toEqual([]);
    const unknown = await api('GET', '/tasks?state=UNKNOWN');
    expect(items(unknown)).toEqual([]);
  });

  it.each([
    ['state=BOGUS', ['state']],
    ['type=deployment', ['type']],
    ['state=PENDING&state=QUEUED', ['state']],
    ['sort=asc', ['sort']],
    ['state=&type=X', ['state', 'type']],
  ])('refuses the query %s', async (query, fields) => {
    expectInvalidFields(await api('GET', `/tasks?${query}`), fields);
  });

  it('gets a task, 404 TASK_NOT_FOUND for an unknown id', async () => {
    const task = await taskIn('PENDING');
    const res = await api('GET', `/tasks/${task.id}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: task.id, state: 'PENDING', plan: { phases: [expect.any(Object)] } });
    const missing = await api('GET', '/tasks/nope');
    expect(missing.status).toBe(404);
    expect(errorOf(missing)).toEqual({ code: 'TASK_NOT_FOUND', message: 'task nope does not exist', details: [] });
  });

  it.each([
    ['start', 'PENDING', 'QUEUED'],
    ['stop', 'EXECUTING', 'STOPPING'],
    ['abort', 'EXECUTING', 'ABORTING'],
    ['cancel', 'FAILED', 'CANCELLED'],
    ['archive', 'EXECUTED', 'DONE'],
  ] as const)('%s answers 200 with the task view', async (operation, from, to) => {
    const task = await taskIn(from);
    const res = await api('POST', `/tasks/${task.id}/${operation}`);
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ id: task.id, state: to });
  });

  it('answers 409 ILLEGAL_TRANSITION for an operation the state does not allow', async () => {
    const task = await taskIn('EXECUTING');
    const res = await api('POST', `/tasks/${task.id}/start`);
    expect(res.status).toBe(409);
    expect(errorOf(res)).toMatchObject({ code: 'ILLEGAL_TRANSITION', message: 'cannot start a task in state EXECUTING' });
    expect((await api('GET', `/tasks/${task.id}`)).json).toMatchObject({ state: 'EXECUTING' });
  });

  it('answers 404 for an operation on an unknown task', async () => {
    const res = await api('POST', '/tasks/nope/stop');
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('TASK_NOT_FOUND');
  });

  it('schedules at an ISO date', async () => {
    const task = await taskIn('PENDING');
    const res = await api('POST', `/tasks/${task.id}/schedule`, { json: { at: '2030-01-31T18:00:00Z' } });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ state: 'SCHEDULED', scheduledAt: '2030-01-31T18:00:00.000Z' });
  });

  it.each([{}, { at: 'tomorrow' }, { at: '2030-02-31T00:00:00Z' }, { at: '2030-W05' }, { at: 1893456000000 }])(
    'refuses the schedule body %j',
    async (json) => {
      const task = await taskIn('PENDING');
      expectInvalidFields(await api('POST', `/tasks/${task.id}/schedule`, { json }), ['at']);
      expect((await api('GET', `/tasks/${task.id}`)).json).toMatchObject({ state: 'PENDING' });
    },
  );

  it('serves a step log as text', async () => {
    const task = await taskIn('FAILED');
    await master.stores.logs.append(task.id, '1-1-1', 'log of 1-1-1\nline 2\n');
    const res = await api('GET', `/tasks/${task.id}/steps/1-1-1/log`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(res.text).toBe('log of 1-1-1\nline 2\n');
    const missing = await api('GET', `/tasks/${task.id}/steps/9-9-9/log`);
    expect(missing.status).toBe(404);
    expect(errorOf(missing).code).toBe('STEP_NOT_FOUND');
  });

  it.each(['abc', '1-2-3-4', '1--2', '-1', '1.2'])('refuses the step path %s', async (path) => {
    const task = await taskIn('PENDING');
    expectInvalidFields(await api('GET', `/tasks/${task.id}/steps/${path}/log`), ['path']);
    expectInvalidFields(await api('POST', `/tasks/${task.id}/steps/${path}/skip`), ['path']);
  });

  it.each([
    ['skip', { state: 'SKIPPED', pauseBefore: false }],
    ['pause-before', { state: 'PENDING', pauseBefore: true }],
  ] as const)('%s a step answers 200 with the changed task', async (change, step) => {
    const task = await taskIn('PENDING');
    const res = await api('POST', `/tasks/${task.id}/steps/1-2-1/${change}`);
    expect(res.status).toBe(200);
    expect((res.json as TaskView).steps[1]).toMatchObject({ path: '1-2-1', ...step });
  });

  it('unskip takes a skip back', async () => {
    const task = await taskIn('STOPPED');
    await api('POST', `/tasks/${task.id}/steps/1-1-1/skip`);
    const res = await api('POST', `/tasks/${task.id}/steps/1-1-1/unskip`);
    expect(res.status).toBe(200);
    expect((res.json as TaskView).steps[0].state).toBe('PENDING');
    const executing = await taskIn('EXECUTING');
    expect((await api('POST', `/tasks/${executing.id}/steps/1-1-1/skip`)).status).toBe(409);
  });

  it('refuses with 409 to remove a task that is not UNKNOWN', async () => {
    const task = await taskIn('EXECUTING');
    const res = await api('DELETE', `/tasks/${task.id}`);
    expect(res.status).toBe(409);
    expect(errorOf(res)).toMatchObject({ code: 'ILLEGAL_TRANSITION', message: 'cannot remove a task in state EXECUTING' });
  });
});

describe('workers', () => {
  beforeEach(() => serve('cluster'));

  const connect = async (id: string) => {
    const session = fakeSession(id, master.clock);
    await master.cluster!.connected(session);
    return session;
  };

  it('lists workers', async () => {
    await connect('w1');
    const res = await api('GET', '/workers');
    expect(items(res)).toEqual([
      {
        id: 'w1',
        name: 'name-w1',
        address: 'w1:9',
        state: 'CONNECTED',
        deploymentTasks: 0,
        controlTasks: 0,
        configHash: 'hash',
        capacity: 3,
        lastSeen: master.clock.current.toISOString(),
      },
    ]);
  });

  it('drains a worker, and answers 404 for an unknown one', async () => {
    const w1 = await connect('w1');
    const res = await api('POST', '/workers/w1/drain');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ message: 'w1 does drain' });
    expect(w1.sent).toEqual(['drain']);
    const unknown = await api('POST', '/workers/nope/drain');
    expect(unknown.status).toBe(404);
    expect(errorOf(unknown).code).toBe('WORKER_NOT_FOUND');
  });

  it('forgets only a DISCONNECTED worker', async () => {
    const w1 = await connect('w1');
    const busy = await api('DELETE', '/workers/w1');
    expect(busy.status).toBe(409);
    expect(errorOf(busy).code).toBe('CONFLICT');
    master.cluster!.disconnected(w1, 'socket closed');
    master.clock.advance(GRACE_PERIOD_MS + 1);
    expect((await api('DELETE', '/workers/w1')).status).toBe(204);
    expect(items(await api('GET', '/workers'))).toEqual([]);
  });

  it('restores ghost tasks', async () => {
    await connect('w1');
    const res = await api('POST', '/workers/restore-ghost-tasks');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ tasks: [], workers: [{ id: 'w1', ok: true, message: 'w1 does restoreGhostTasks', tasks: [] }] });
  });

  it('shows the tasks of a gone worker UNKNOWN, refuses to operate them and removes them with 204', async () => {
    const w1 = await connect('w1');
    const task = await pendingDeployment();
    await master.stores.tasks.compareAndSet(task.id, 'PENDING', { state: 'EXECUTING', workerId: 'w1' });
    master.cluster!.disconnected(w1, 'socket closed');
    master.clock.advance(GRACE_PERIOD_MS + 1);
    expect((await api('GET', `/tasks/${task.id}`)).json).toMatchObject({ state: 'UNKNOWN' });
    const stop = await api('POST', `/tasks/${task.id}/stop`);
    expect(stop.status).toBe(409);
    expect(errorOf(stop).message).toBe('cannot stop a task in state UNKNOWN');
    expect((await api('DELETE', `/tasks/${task.id}`)).status).toBe(204);
    expect((await api('GET', `/tasks/${task.id}`)).status).toBe(404);
  });
});

describe('archive and server', () => {
  beforeEach(() => serve());

  it('lists the archive with a validated filter', async () => {
    const task = await taskIn('PENDING');
    await api('POST', `/tasks/${task.id}/cancel`);
    const res = await api('GET', '/archive/tasks?from=2029-12-31&to=2030-02-01T00:00:00Z&application=petclinic&environment=dev');
    expect(items<TaskView>(res).map((t) => [t.id, t.state])).toEqual([[task.id, 'CANCELLED']]);
    expect(items(await api('GET', '/archive/tasks?from=2030-01-02'))).toEqual([]);
    expect(items(await api('GET', '/archive/tasks?application=other'))).toEqual([]);
  });

  it('refuses bad dates and an inverted range', async () => {
    expectInvalidFields(await api('GET', '/archive/tasks?from=yesterday&to=2030-13-01'), ['from', 'to']);
    expectInvalidFields(await api('GET', '/archive/tasks?from=2030-02-01&to=2030-01-01'), ['to']);
  });

  it('tells server info', async () => {
    const res = await api('GET', '/server/info');
    expect(res.status).toBe(200);
    expect(res.json).toEqual({ version: '0.0.0-test', role: 'master', id: 'master-test', configHash: 'hash', inProcessWorker: true });
  });
});

describe('errors', () => {
  beforeEach(() => serve());

  it.each(['/api/v1/nope', '/nope', '/api/v2/tasks', '/api/v1/tasks/t1/steps'])('answers 404 NOT_FOUND JSON for %s', async (path) => {
    const res = await server.request('GET', path);
    expect(res.status).toBe(404);
    expect(errorOf(res).code).toBe('NOT_FOUND');
  });

  it('answers 405 with Allow for a wrong method on a known path', async () => {
    const res = await api('PATCH', '/hosts/local');
    expect(res.status).toBe(405);
    expect(res.headers.get('allow')).toBe('GET, PUT, DELETE, HEAD, OPTIONS');
    expect(errorOf(res).message).toBe('method PATCH is not allowed on /hosts/local; allowed: GET, PUT, DELETE, HEAD, OPTIONS');
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
    const json = { ...deployment, pad: '' };
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
    jest.spyOn(master.services.tasks, 'getTask').mockRejectedValue(new Error('connection to postgres://admin:hunter2@db failed'));
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
    jest.spyOn(master.services.catalog, 'listHosts').mockRejectedValue('raw string');
    const res = await api('GET', '/hosts');
    expect(res.status).toBe(500);
    expect(errorOf(res).code).toBe('INTERNAL');
  });

  it('maps CONFIG_INVALID to 500 with its message', async () => {
    jest.spyOn(master.services.catalog, 'listHosts').mockRejectedValue(new ConfigError('plugins differ'));
    const res = await api('GET', '/hosts');
    expect(res.status).toBe(500);
    expect(errorOf(res)).toMatchObject({ code: 'CONFIG_INVALID', message: 'plugins differ' });
  });

  it('writes one access log line per request at debug level', async () => {
    const res = await api('GET', '/hosts?limit=1');
    const requestId = res.headers.get('x-request-id');
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    await waitFor(() => logs.some((l) => l['requestId'] === requestId && l['status'] === 200));
    const lines = logs.filter((l) => l['requestId'] === requestId);
    expect(lines).toEqual([
      expect.objectContaining({ level: 'debug', method: 'GET', url: '/api/v1/hosts?limit=1', status: 200, durationMs: expect.any(Number) }),
    ]);
  });
});
