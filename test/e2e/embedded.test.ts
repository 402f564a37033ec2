/**
 * End-to-end tests of the embedded default (spec §3): a real `shipdeck master` process with its
 * in-process worker and its database file, driven through the REST API only (spec §6). Commands
 * and files of the deployments run on this machine, in a sandbox directory per test file.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorBody } from '@shipdeck/rest-api';
import type { TaskView } from '@shipdeck/tasks';
import { Manifest, manifestYaml, petclinic, placeholdersOf, resolvePlaceholders, sameDeployable } from '../support/fixtures';
import { StandaloneMaster, cleanupAllMasters, runMasterToExit, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { holdsFor } from '../support/poll';
import { isProcessAlive, killTrackedProcesses, trackProcesses, waitForPidFile, waitForProcessesGone } from '../support/processes';
import { getTask } from '../support/rest-actions';
import { Api, ApiResponse, api, expectStatus, stepOf, summarize, waitForTask } from '../support/rest-client';

const TEST_TIMEOUT_MS = 60_000;
const YAML = 'application/yaml';

interface Created {
  taskId: string;
}

interface DeployedWire {
  application: string;
  version: string;
  deployeds: { deployable: string; host: string; type: string }[];
}

interface PreviewWire {
  kind: string;
  delta: { operation: string; previous?: { deployable: string }; next?: { deployable: string } }[];
  plan: TaskView['plan'];
}

/** Asserts the error shape of spec §6, the status and (when given) the code; answers the error. */
function expectError(response: ApiResponse, status: number, code?: string): ErrorBody['error'] {
  const context = `HTTP ${response.status} ${response.text}`;
  expect({ status: response.status, context }).toEqual({ status, context });
  const body = response.body as ErrorBody;
  expect(body).toEqual({
    error: { code: expect.any(String), message: expect.any(String), details: expect.any(Array) },
  });
  expect(body.error.message.length).toBeGreaterThan(0);
  if (code) expect(body.error.code).toBe(code);
  return body.error;
}

/** The items of a list answer (spec §6: paged, `{items, nextCursor}`) that fits one page. */
function itemsOf<T>(response: ApiResponse<unknown>): T[] {
  const page = expectStatus(response as ApiResponse<{ items: T[]; nextCursor: string | null }>, 200);
  expect(page.nextCursor).toBeNull();
  return page.items;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** Imports a manifest as YAML; expects 201. */
async function importPackage(client: Api, manifest: Manifest | string): Promise<void> {
  const text = typeof manifest === 'string' ? manifest : manifestYaml(manifest);
  expectStatus(await client.post('/packages', text, { contentType: YAML }), 201);
}

/** Creates a deployment; expects 201 and a PENDING task; answers the task id. */
async function deploy(client: Api, body: Record<string, unknown>): Promise<string> {
  const created = expectStatus(await client.post<Created>('/deployments', body), 201);
  expect(created.taskId).toEqual(expect.any(String));
  const task = expectStatus(await client.get<TaskView>(`/tasks/${created.taskId}`), 200);
  expect(task.state).toBe('PENDING');
  return created.taskId;
}

/** POST /tasks/{id}/start; expects 200 and QUEUED (spec §2: start → QUEUED). */
async function start(client: Api, id: string): Promise<void> {
  const task = expectStatus(await client.post<TaskView>(`/tasks/${id}/start`), 200);
  expect(task.state).toBe('QUEUED');
}

async function archive(client: Api, id: string): Promise<void> {
  const task = expectStatus(await client.post<TaskView>(`/tasks/${id}/archive`), 200);
  expect(task.state).toBe('DONE');
}

afterAll(async () => {
  killTrackedProcesses();
  await cleanupAllMasters();
});

describe('embedded master', () => {
  let master: StandaloneMaster | undefined;
  let client: Api;
  let sandbox: string;
  let dictionary: Record<string, string>;
  let url: string;

  const e2e = (name: string, body: () => Promise<void>) =>
    it(name, withOutputOf(() => [master], body), TEST_TIMEOUT_MS);

  beforeAll(async () => {
    sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-e2e-sandbox-'));
    dictionary = { APP_HOME: join(sandbox, 'app'), DB_URL: 'jdbc:test' };
    master = await startMaster();
    url = master.url;
    client = api(url);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    killTrackedProcesses();
    await master?.cleanup();
    if (sandbox && !process.env.SHIPDECK_E2E_KEEP) rmSync(sandbox, { recursive: true, force: true });
  });

  /** The file.File deployables of a petclinic version, with where they land and what they hold. */
  const filesOf = (version: '1.0.0' | '2.0.0') =>
    petclinic(version)
      .manifest.deployables.filter((d) => d.type === 'file.File')
      .map((d) => ({
        name: d.name,
        path: resolvePlaceholders(String(d.targetPath), dictionary),
        content: resolvePlaceholders(String(d.content), dictionary),
      }));

  e2e('1. sets up a host, an environment and the petclinic packages through REST', async () => {
    for (const version of ['1.0.0', '2.0.0'] as const) {
      const unknown = placeholdersOf(petclinic(version).yaml).filter((k) => !(k in dictionary));
      expect({ version, placeholdersWithoutValue: unknown }).toEqual({ version, placeholdersWithoutValue: [] });
    }

    // file.File writes only under the host's allowedRoots (issue 9).
    const host = await client.put<{ name: string; type: string }>('/hosts/local-1', { type: 'local', properties: { allowedRoots: [sandbox] } });
    expect(expectStatus(host, 201)).toMatchObject({ name: 'local-1', type: 'local' });
    const env = await client.put<{ name: string; hosts: string[] }>('/environments/dev', {
      hosts: ['local-1'],
      dictionary,
    });
    expect(expectStatus(env, 201)).toMatchObject({ name: 'dev', hosts: ['local-1'], dictionary });

    for (const version of ['1.0.0', '2.0.0'] as const) {
      const res = await client.post<{ application: string; version: string }>('/packages', petclinic(version).yaml, {
        contentType: YAML,
      });
      expect(expectStatus(res, 201)).toMatchObject({ application: 'petclinic', version });
    }
    const versions = itemsOf<string>(await client.get('/applications/petclinic/versions'));
    expect([...versions].sort()).toEqual(['1.0.0', '2.0.0']);
    expectStatus(await client.get('/hosts/local-1'), 200);
    expect(itemsOf<{ name: string }>(await client.get('/environments')).map((e) => e.name)).toContain('dev');
  });

  e2e('2. deploys petclinic 1.0.0 to dev, archives it and shows it deployed', async () => {
    const id = await deploy(client, { application: 'petclinic', version: '1.0.0', environment: 'dev' });
    const pending = await getTask(client, id);
    expect(pending).toMatchObject({ id, type: 'DEPLOYMENT', state: 'PENDING' });
    expect(pending.steps.length).toBeGreaterThan(0);
    expect(pending.steps.every((s) => s.state === 'PENDING' && s.host === 'local-1')).toBe(true);

    await start(client, id);
    const executed = await waitForTask(url, id, ['EXECUTED']);
    expect(executed.steps.map((s) => s.state)).toEqual(executed.steps.map(() => 'DONE'));

    const files = filesOf('1.0.0');
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      expect({ file: file.path, content: existsSync(file.path) ? readFileSync(file.path, 'utf8') : '(missing)' }).toEqual({
        file: file.path,
        content: file.content,
      });
      expect(file.content).not.toMatch(/\{\{/);
    }

    const step = stepOf(executed, files[0].name);
    const log = await client.get<string>(`/tasks/${id}/steps/${step.path}/log`);
    expect(expectStatus(log, 200)).toEqual(expect.any(String));
    expect(log.headers.get('content-type')).toMatch(/^text\/plain/);
    expect(log.text.trim().length).toBeGreaterThan(0);

    await archive(client, id);
    expect((await getTask(client, id)).state).toBe('DONE');

    const deployed = itemsOf<DeployedWire>(await client.get('/environments/dev/deployed'));
    const app = deployed.find((d) => d.application === 'petclinic');
    expect(app).toMatchObject({ application: 'petclinic', version: '1.0.0' });
    expect(app?.deployeds.map((d) => d.deployable).sort()).toEqual(
      petclinic('1.0.0').manifest.deployables.map((d) => d.name).sort(),
    );

    const archived = itemsOf<TaskView>(await client.get('/archive/tasks'));
    expect(archived.map((t) => t.id)).toContain(id);
    const current = itemsOf<TaskView>(await client.get('/tasks'));
    expect(current.map((t) => t.id)).not.toContain(id);
  });

  e2e('3. previews and deploys petclinic 2.0.0: only the changed deployable gets a step', async () => {
    const v1 = petclinic('1.0.0').manifest.deployables;
    const v2 = petclinic('2.0.0').manifest.deployables;
    expect(v2.map((d) => d.name).sort()).toEqual(v1.map((d) => d.name).sort()); // test data: same deployables
    const changed = v2.filter((d) => !sameDeployable(d, v1.find((p) => p.name === d.name)!)).map((d) => d.name);
    const unchanged = v2.map((d) => d.name).filter((n) => !changed.includes(n));
    expect(changed).toContain('app-config');

    const request = { application: 'petclinic', version: '2.0.0', environment: 'dev' };
    const preview = expectStatus(await client.post<PreviewWire>('/deployments/preview', request), 200);
    expect(preview.kind).toBe('UPDATE');
    const operationOf = (name: string) =>
      preview.delta.filter((d) => (d.next ?? d.previous)?.deployable === name).map((d) => d.operation);
    for (const name of changed) expect({ name, operations: operationOf(name) }).toEqual({ name, operations: ['MODIFY'] });
    for (const name of unchanged) expect({ name, operations: operationOf(name) }).toEqual({ name, operations: ['NOOP'] });
    expect(preview.delta).toHaveLength(v2.length);
    // The preview creates nothing.
    expect(itemsOf<TaskView>(await client.get('/tasks')).filter((t) => t.description.includes('2.0.0'))).toEqual([]);

    const id = await deploy(client, request);
    const task = await getTask(client, id);
    expect(task.steps).toHaveLength(changed.length);
    const configStep = stepOf(task, 'app-config');
    expect(configStep).toMatchObject({ operation: 'MODIFY', ciType: 'file.File', state: 'PENDING', host: 'local-1' });
    expect(task.steps.every((s) => s.operation === 'MODIFY')).toBe(true);

    await start(client, id);
    await waitForTask(url, id, ['EXECUTED']);
    for (const file of filesOf('2.0.0')) {
      expect({ file: file.path, content: readFileSync(file.path, 'utf8') }).toEqual({ file: file.path, content: file.content });
    }
    const oldConfig = filesOf('1.0.0').find((f) => f.name === 'app-config')!;
    expect(readFileSync(oldConfig.path, 'utf8')).not.toBe(oldConfig.content);
    await archive(client, id);

    const deployed = itemsOf<DeployedWire>(await client.get('/environments/dev/deployed'));
    expect(deployed.find((d) => d.application === 'petclinic')).toMatchObject({ version: '2.0.0' });
  });

  e2e('4. undeploys petclinic: the files are gone and nothing is deployed', async () => {
    const created = expectStatus(
      await client.post<Created>('/undeployments', { application: 'petclinic', environment: 'dev' }),
      201,
    );
    const id = created.taskId;
    const task = await getTask(client, id);
    expect(task.state).toBe('PENDING');
    expect(task.steps.length).toBeGreaterThan(0);
    expect(task.steps.every((s) => s.operation === 'DESTROY')).toBe(true);

    const files = filesOf('2.0.0');
    for (const file of files) expect(existsSync(file.path)).toBe(true);
    await start(client, id);
    await waitForTask(url, id, ['EXECUTED']);
    for (const file of files) expect({ file: file.path, exists: existsSync(file.path) }).toEqual({ file: file.path, exists: false });

    await archive(client, id);
    const deployed = itemsOf<DeployedWire>(await client.get('/environments/dev/deployed'));
    expect(deployed).toEqual([]);
  });

  e2e('5. a failing command fails the task; a retry continues from the failed step', async () => {
    const ledger = join(sandbox, 'ledger-5.txt');
    const flag = join(sandbox, 'flag-5');
    await importPackage(client, {
      application: 'ledger-app',
      version: '1.0.0',
      deployables: [
        { name: 'first', type: 'cmd.Command', order: 10, create: `echo first >> ${ledger}` },
        {
          name: 'second',
          type: 'cmd.Command',
          order: 20,
          create: `test -f ${flag} || { echo "flag missing: ${flag}" >&2; exit 3; }; echo second >> ${ledger}`,
        },
      ],
    });
    const id = await deploy(client, { application: 'ledger-app', version: '1.0.0', environment: 'dev' });
    const planned = await getTask(client, id);
    // Execution order follows `order`: first (10) before second (20).
    expect(planned.steps.map((s) => s.path)).toEqual([stepOf(planned, 'first').path, stepOf(planned, 'second').path]);

    await start(client, id);
    const failed = await waitForTask(url, id, ['FAILED']);
    expect(stepOf(failed, 'first').state).toBe('DONE');
    const second = stepOf(failed, 'second');
    expect(second.state).toBe('FAILED');
    expect(lines(ledger)).toEqual(['first']);

    const log = expectStatus(await client.get<string>(`/tasks/${id}/steps/${second.path}/log`), 200);
    expect(log).toContain(`flag missing: ${flag}`);
    expect(log).toMatch(/\b3\b/); // the exit code

    writeFileSync(flag, '');
    await start(client, id);
    const executed = await waitForTask(url, id, ['EXECUTED']);
    expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE']);
    expect(lines(ledger)).toEqual(['first', 'second']);
    await archive(client, id);
  });

  e2e('6. abort kills the running command; an aborted task can be started again', async () => {
    const pidFile = join(sandbox, 'sleeper-6.pid');
    await importPackage(client, {
      application: 'sleeper',
      version: '1.0.0',
      deployables: [
        // The shell writes its own pid and the sleep's, then waits for the sleep.
        { name: 'nap', type: 'cmd.Command', create: `sleep 300 & echo "$$ $!" > ${pidFile}; wait` },
      ],
    });
    const id = await deploy(client, { application: 'sleeper', version: '1.0.0', environment: 'dev' });

    const abortAndCheck = async () => {
      const pids = await waitForPidFile(pidFile, 2);
      trackProcesses(pids);
      await waitForTask(url, id, ['EXECUTING']);
      expect(pids.filter(isProcessAlive)).toEqual(pids);
      const aborting = expectStatus(await client.post<TaskView>(`/tasks/${id}/abort`), 200);
      expect(['ABORTING', 'ABORTED']).toContain(aborting.state);
      const aborted = await waitForTask(url, id, ['ABORTED']);
      expect(stepOf(aborted, 'nap').state).toBe('FAILED');
      await waitForProcessesGone(pids, 10_000);
    };

    await start(client, id);
    await abortAndCheck();

    // start is allowed from ABORTED (spec §2); the failed step runs again.
    rmSync(pidFile, { force: true });
    await start(client, id);
    await abortAndCheck();

    const cancelled = expectStatus(await client.post<TaskView>(`/tasks/${id}/cancel`), 200);
    expect(['CANCELLING', 'CANCELLED']).toContain(cancelled.state);
    await waitForTask(url, id, ['CANCELLED']);
  });

  e2e('7. a control task checks the connection of a host', async () => {
    const created = expectStatus(
      await client.post<Created>('/control-tasks', { target: 'local-1', control: 'checkConnection' }),
      201,
    );
    const id = created.taskId;
    const task = await getTask(client, id);
    expect(task).toMatchObject({ type: 'CONTROL', state: 'PENDING' });
    expect(task.steps).toHaveLength(1);
    await start(client, id);
    const executed = await waitForTask(url, id, ['EXECUTED']);
    expect(executed.steps[0].state).toBe('DONE');
    const log = expectStatus(await client.get<string>(`/tasks/${id}/steps/${executed.steps[0].path}/log`), 200);
    expect(log.trim().length).toBeGreaterThan(0);
    await archive(client, id);

    // Control noop (the benchmark's trivial task) waits sleepMs and logs nothing.
    const noop = expectStatus(await client.post<Created>('/control-tasks', { target: 'local-1', control: 'noop', parameters: { sleepMs: 20 } }), 201);
    await start(client, noop.taskId);
    expect((await waitForTask(url, noop.taskId, ['EXECUTED'])).steps[0].state).toBe('DONE');
  });

  e2e('8. the example plugin deploys an example.Marker', async () => {
    const marker = join(sandbox, 'markers', 'sign.txt');
    await importPackage(client, {
      application: 'marker-app',
      version: '1.0.0',
      deployables: [{ name: 'sign', type: 'example.Marker', path: marker, text: 'hello from the example plugin' }],
    });
    const id = await deploy(client, { application: 'marker-app', version: '1.0.0', environment: 'dev' });
    expect(stepOf(await getTask(client, id), 'sign').ciType).toBe('example.Marker');
    await start(client, id);
    await waitForTask(url, id, ['EXECUTED']);
    expect(existsSync(marker)).toBe(true);
    const [first, second] = readFileSync(marker, 'utf8').split('\n');
    expect(first).toBe('hello from the example plugin');
    expect(second).toMatch(/^deployed-at \d{4}-\d\d-\d\dT/);
    await archive(client, id);
  });

  describe('9. plan changes', () => {
    const threeSteps = (application: string, ledger: string): Manifest => ({
      application,
      version: '1.0.0',
      deployables: ['alpha', 'bravo', 'charlie'].map((name, i) => ({
        name,
        type: 'cmd.Command',
        order: 10 * (i + 1),
        create: `echo ${name} >> ${ledger}`,
      })),
    });

    e2e('pause-before given at creation stops the task before the step; start continues', async () => {
      const ledger = join(sandbox, 'ledger-9a.txt');
      await importPackage(client, threeSteps('pause-app', ledger));
      const request = { application: 'pause-app', version: '1.0.0', environment: 'dev' };
      const preview = expectStatus(await client.post<PreviewWire>('/deployments/preview', request), 200);
      const previewTask = { steps: preview.plan.phases.flatMap((p) => p.blocks.flatMap((b) => b.steps)) } as TaskView;
      const bravoPath = stepOf(previewTask, 'bravo').path;

      const id = await deploy(client, { ...request, pauseBefore: [bravoPath] });
      expect(stepOf(await getTask(client, id), 'bravo')).toMatchObject({ path: bravoPath, pauseBefore: true });
      await start(client, id);
      const stopped = await waitForTask(url, id, ['STOPPED']);
      expect(stopped.steps.map((s) => s.state)).toEqual(['DONE', 'PAUSED', 'PENDING']);
      expect(lines(ledger)).toEqual(['alpha']);

      await start(client, id);
      const executed = await waitForTask(url, id, ['EXECUTED']);
      expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'DONE', 'DONE']);
      expect(lines(ledger)).toEqual(['alpha', 'bravo', 'charlie']);
      await archive(client, id);
    });

    e2e('skip, unskip and pause-before on a PENDING task; skip refused once EXECUTED', async () => {
      const ledger = join(sandbox, 'ledger-9b.txt');
      await importPackage(client, threeSteps('skip-app', ledger));
      const id = await deploy(client, { application: 'skip-app', version: '1.0.0', environment: 'dev' });
      const planned = await getTask(client, id);
      const [bravo, charlie] = [stepOf(planned, 'bravo').path, stepOf(planned, 'charlie').path];

      let task = expectStatus(await client.post<TaskView>(`/tasks/${id}/steps/${bravo}/skip`), 200);
      expect(stepOf(task, 'bravo').state).toBe('SKIPPED');
      task = expectStatus(await client.post<TaskView>(`/tasks/${id}/steps/${charlie}/skip`), 200);
      expect(stepOf(task, 'charlie').state).toBe('SKIPPED');
      task = expectStatus(await client.post<TaskView>(`/tasks/${id}/steps/${charlie}/unskip`), 200);
      expect(stepOf(task, 'charlie').state).toBe('PENDING');
      task = expectStatus(await client.post<TaskView>(`/tasks/${id}/steps/${charlie}/pause-before`), 200);
      expect(stepOf(task, 'charlie').pauseBefore).toBe(true);
      expect(task.state).toBe('PENDING');
      expect((await getTask(client, id)).steps.map((s) => s.state)).toEqual(['PENDING', 'SKIPPED', 'PENDING']);

      await start(client, id);
      const stopped = await waitForTask(url, id, ['STOPPED']);
      expect(stopped.steps.map((s) => s.state)).toEqual(['DONE', 'SKIPPED', 'PAUSED']);
      expect(lines(ledger)).toEqual(['alpha']);

      await start(client, id);
      const executed = await waitForTask(url, id, ['EXECUTED']);
      expect(executed.steps.map((s) => s.state)).toEqual(['DONE', 'SKIPPED', 'DONE']);
      expect(lines(ledger)).toEqual(['alpha', 'charlie']);

      const refused = await client.post(`/tasks/${id}/steps/${bravo}/unskip`);
      expectError(refused, 409, 'ILLEGAL_TRANSITION');
      const refusedSkip = await client.post(`/tasks/${id}/steps/${charlie}/skip`);
      expectError(refusedSkip, 409, 'ILLEGAL_TRANSITION');
      expect(await getTask(client, id)).toEqual(executed);
      await archive(client, id);
    });
  });

  e2e('10. illegal transitions answer 409 ILLEGAL_TRANSITION and change nothing', async () => {
    const created = expectStatus(
      await client.post<Created>('/control-tasks', { target: 'local-1', control: 'checkConnection' }),
      201,
    );
    const pendingId = created.taskId;
    const before = await getTask(client, pendingId);
    expect(before.state).toBe('PENDING');
    for (const operation of ['archive', 'stop', 'abort']) {
      const res = await client.post(`/tasks/${pendingId}/${operation}`);
      expectError(res, 409, 'ILLEGAL_TRANSITION');
      expect({ operation, after: await getTask(client, pendingId) }).toEqual({ operation, after: before });
    }
    expect(itemsOf<TaskView>(await client.get('/archive/tasks')).map((t) => t.id)).not.toContain(pendingId);

    const doneId = expectStatus(
      await client.post<Created>('/control-tasks', { target: 'local-1', control: 'checkConnection' }),
      201,
    ).taskId;
    await start(client, doneId);
    await waitForTask(url, doneId, ['EXECUTED']);
    await archive(client, doneId);
    const done = await getTask(client, doneId);
    for (const operation of ['start', 'archive', 'cancel']) {
      const res = await client.post(`/tasks/${doneId}/${operation}`);
      expectError(res, 409, 'ILLEGAL_TRANSITION');
      expect({ operation, after: await getTask(client, doneId) }).toEqual({ operation, after: done });
    }

    const cancelled = expectStatus(await client.post<TaskView>(`/tasks/${pendingId}/cancel`), 200);
    expect(['CANCELLING', 'CANCELLED']).toContain(cancelled.state);
    await waitForTask(url, pendingId, ['CANCELLED']);
  });

  describe('11. bad input is answered with the error shape, never a 500', () => {
    e2e('malformed JSON → 400', async () => {
      const res = await client.post('/deployments', '{"application": "petclinic",', { contentType: 'application/json' });
      expectError(res, 400, 'MALFORMED_BODY');
    });

    e2e('missing fields on POST /deployments → 400 with one detail per field', async () => {
      const error = expectError(await client.post('/deployments', {}), 400);
      expect(error.details.map((d) => d.field).sort()).toEqual(['application', 'environment', 'version']);
      for (const detail of error.details) expect(detail.message.length).toBeGreaterThan(0);
    });

    e2e('wrong types → 400 naming the fields', async () => {
      const error = expectError(
        await client.post('/deployments', { application: 42, version: ['1.0.0'], environment: 'dev' }),
        400,
      );
      expect(error.details.map((d) => d.field).sort()).toEqual(['application', 'version']);
      const skip = expectError(
        await client.post('/deployments', { application: 'petclinic', version: '1.0.0', environment: 'dev', skipSteps: 'x' }),
        400,
      );
      expect(skip.details.map((d) => d.field)).toEqual(['skipSteps']);
    });

    e2e("a control's bad parameters → 400 naming parameters.*", async () => {
      const error = expectError(
        await client.post('/control-tasks', { target: 'local-1', control: 'noop', parameters: { sleepMs: -1, colour: 'red' } }),
        400,
      );
      expect(error.details.map((d) => d.field)).toEqual(['parameters.sleepMs', 'parameters.colour']);
    });

    e2e('a manifest with an unknown CI type → 400 naming deployables[0].type', async () => {
      const yaml = manifestYaml({
        application: 'broken',
        version: '1.0.0',
        deployables: [{ name: 'x', type: 'no.SuchType', create: 'true' }],
      });
      const error = expectError(await client.post('/packages', yaml, { contentType: YAML }), 400);
      expect(error.details.map((d) => d.field)).toContain('deployables[0].type');
      expect(error.details.find((d) => d.field === 'deployables[0].type')?.message).toContain('no.SuchType');
      expectError(await client.get('/applications/broken/versions'), 404);
    });

    e2e('an unknown task → 404 TASK_NOT_FOUND', async () => {
      const missing = '00000000-0000-4000-8000-000000000000';
      expectError(await client.get(`/tasks/${missing}`), 404, 'TASK_NOT_FOUND');
      expectError(await client.post(`/tasks/${missing}/start`), 404, 'TASK_NOT_FOUND');
      expectError(await client.get(`/tasks/${missing}/steps/1-1-1/log`), 404, 'TASK_NOT_FOUND');
    });

    e2e('a deployment to an unknown environment → 404', async () => {
      const before = itemsOf<TaskView>(await client.get('/tasks')).length;
      const error = expectError(
        await client.post('/deployments', { application: 'petclinic', version: '1.0.0', environment: 'nowhere' }),
        404,
      );
      expect(error.code).toBe('ENVIRONMENT_NOT_FOUND');
      expect(error.message).toContain('nowhere');
      expect(itemsOf<TaskView>(await client.get('/tasks'))).toHaveLength(before);
    });

    e2e('an unresolved placeholder → 400 PLANNING_FAILED naming it', async () => {
      await importPackage(client, {
        application: 'placeholder-app',
        version: '1.0.0',
        deployables: [
          { name: 'conf', type: 'file.File', targetPath: join(sandbox, 'ph.conf'), content: 'x={{NOT_IN_DICTIONARY}}\n' },
        ],
      });
      const before = itemsOf<TaskView>(await client.get('/tasks')).length;
      const request = { application: 'placeholder-app', version: '1.0.0', environment: 'dev' };
      for (const path of ['/deployments/preview', '/deployments']) {
        const error = expectError(await client.post(path, request), 400, 'PLANNING_FAILED');
        expect({ path, names: JSON.stringify(error).includes('NOT_IN_DICTIONARY') }).toEqual({ path, names: true });
      }
      expect(itemsOf<TaskView>(await client.get('/tasks'))).toHaveLength(before);
    });
  });
});

describe('12. a SIGKILLed master restarts with its tasks', () => {
  let master: StandaloneMaster | undefined;
  let sandbox: string;

  beforeAll(() => {
    sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-e2e-restart-'));
  });

  afterAll(async () => {
    killTrackedProcesses();
    await master?.cleanup();
    if (sandbox && !process.env.SHIPDECK_E2E_KEEP) rmSync(sandbox, { recursive: true, force: true });
  });

  it(
    'keeps pending and queued tasks, fails the interrupted one',
    withOutputOf(
      () => [master],
      async () => {
        master = await startMaster({ env: { SHIPDECK_TASK_MAX_ACTIVE_TASKS: '1' } });
        const url = master.url;
        const client = api(url);
        const pidFile = join(sandbox, 'long.pid');
        const ledger = join(sandbox, 'ledger.txt');

        expectStatus(await client.put('/hosts/local-1', { type: 'local' }), 201);
        expectStatus(await client.put('/environments/dev', { hosts: ['local-1'], dictionary: {} }), 201);
        const command = (application: string, create: string): Manifest => ({
          application,
          version: '1.0.0',
          deployables: [{ name: `${application}-cmd`, type: 'cmd.Command', create }],
        });
        await importPackage(client, command('long', `sleep 300 & echo "$$ $!" > ${pidFile}; wait`));
        await importPackage(client, command('task-b', `echo b >> ${ledger}`));
        await importPackage(client, command('task-c', `echo c >> ${ledger}`));

        const longId = await deploy(client, { application: 'long', version: '1.0.0', environment: 'dev' });
        await start(client, longId);
        const pids = await waitForPidFile(pidFile, 2);
        trackProcesses(pids);
        await waitForTask(url, longId, ['EXECUTING']);

        const bId = await deploy(client, { application: 'task-b', version: '1.0.0', environment: 'dev' });
        await start(client, bId);
        const cId = await deploy(client, { application: 'task-c', version: '1.0.0', environment: 'dev' });
        // The only slot is taken: B stays QUEUED across several reconciler passes (500 ms each).
        let seen: TaskView | undefined;
        await holdsFor(
          async () => (seen = await getTask(client, bId)).state === 'QUEUED',
          2_000,
          () => `task B left QUEUED while the only slot was busy: ${seen && summarize(seen)}`,
        );
        expect(lines(ledger)).toEqual([]);

        const killedPid = master.pid;
        expect(await master.kill('SIGKILL')).toEqual({ code: null, signal: 'SIGKILL' });
        // A SIGKILLed master cannot clean up its commands, which run in their own process group.
        for (const pid of pids) {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
        await waitForProcessesGone(pids);

        await master.restart();
        expect(master.pid).not.toBe(killedPid);

        const long = await waitForTask(url, longId, ['FAILED']);
        expect(long.steps).toHaveLength(1);
        expect(long.steps[0].state).toBe('FAILED');
        const b = await waitForTask(url, bId, ['EXECUTED']);
        expect(b.steps.map((s) => s.state)).toEqual(['DONE']);
        expect(lines(ledger)).toEqual(['b']);
        const c = await getTask(client, cId);
        expect(c.state).toBe('PENDING');
        expect(c.steps.map((s) => s.state)).toEqual(['PENDING']);
      },
    ),
    TEST_TIMEOUT_MS,
  );
});

describe('13. invalid configuration', () => {
  it(
    'a master with SHIPDECK_SERVER_PORT=abc exits non-zero at once with one message naming server.port',
    async () => {
      const result = await runMasterToExit({ env: { SHIPDECK_SERVER_PORT: 'abc' }, timeoutMs: 10_000 });
      const output = `${result.stdout}${result.stderr}`;
      const report = `exit code=${result.code} signal=${result.signal} after ${result.elapsedMs} ms\n${output}`;
      expect({ timedOut: result.timedOut, report }).toEqual({ timedOut: false, report });
      expect(result.code).not.toBeNull();
      expect(result.code).not.toBe(0);
      const messages = output.split('\n').filter((l) => l.trim() !== '' && !l.includes('building'));
      expect({ messages }).toEqual({ messages: [expect.stringContaining('server.port')] });
      expect(output).not.toMatch(/^\s+at /m);
    },
    TEST_TIMEOUT_MS,
  );
});
