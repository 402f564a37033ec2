/**
 * End-to-end tests of the model's integrity (issue 14, spec §1): a real embedded `shipdeck
 * master` driven through its REST API. One unfinished deployment per application and environment,
 * immutable package versions, reference checks on delete, the declared order of steps, the
 * shutdown grace period of running steps, and what a master says when it cannot start.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ErrorBody } from '@shipdeck/rest-api';
import type { ShownTaskState, TaskView } from '@shipdeck/tasks';
import { Manifest, manifestYaml, petclinic } from '../support/fixtures';
import { StandaloneMaster, cleanupAllMasters, embeddedEnv, makeStandaloneHome, startMaster } from '../support/master-process';
import { withOutputOf } from '../support/output-log';
import { pollUntil } from '../support/poll';
import { Api, ApiResponse, api, expectStatus, listAll, waitForTask } from '../support/rest-client';
import { freePort, runShipdeck } from '../support/shipdeck-process';

const TEST_TIMEOUT_MS = 60_000;
const YAML = 'application/yaml';

interface PackageWire {
  application: string;
  version: string;
  digest: string;
}

/** The error of a refused request, with its status and code checked. */
function expectError(response: ApiResponse, status: number, code: string): ErrorBody['error'] {
  const context = `HTTP ${response.status} ${response.text}`;
  const body = response.body as Partial<ErrorBody>;
  expect({ status: response.status, code: body.error?.code, context }).toEqual({ status, code, context });
  return (response.body as ErrorBody).error;
}

function lines(path: string): string[] {
  return existsSync(path) ? readFileSync(path, 'utf8').split('\n').filter((l) => l !== '') : [];
}

/** A package of command deployables, all of one order unless they say otherwise. */
function commands(application: string, version: string, steps: { name: string; create: string; order?: number }[]): Manifest {
  return {
    application,
    version,
    deployables: steps.map((s) => ({ name: s.name, type: 'cmd.Command', order: s.order ?? 50, create: s.create })),
  };
}

afterAll(() => cleanupAllMasters());

describe('integrity, against a real master', () => {
  let master: StandaloneMaster | undefined;
  let client: Api;
  let sandbox: string;

  const e2e = (name: string, body: () => Promise<void>) => it(name, withOutputOf(() => [master], body), TEST_TIMEOUT_MS);

  async function importYaml(manifest: Manifest | string, status = 201): Promise<PackageWire> {
    const text = typeof manifest === 'string' ? manifest : manifestYaml(manifest);
    return expectStatus(await client.post<PackageWire>('/packages', text, { contentType: YAML }), status);
  }

  async function createDeployment(application: string, version: string, environment = 'dev'): Promise<string> {
    return expectStatus(await client.post<{ taskId: string }>('/deployments', { application, version, environment }), 201).taskId;
  }

  async function run(id: string, until: ShownTaskState[] = ['EXECUTED']): Promise<TaskView> {
    expectStatus(await client.post(`/tasks/${id}/start`), 200);
    return waitForTask(master!.url, id, until);
  }

  async function archive(id: string): Promise<void> {
    expect(expectStatus(await client.post<TaskView>(`/tasks/${id}/archive`), 200).state).toBe('DONE');
  }

  beforeAll(async () => {
    sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-integrity-'));
    master = await startMaster();
    client = api(master.url);
    // petclinic's file.File deployables write under APP_HOME: the host must allow that root (issue 9).
    expectStatus(await client.put('/hosts/local-1', { type: 'local', properties: { allowedRoots: [sandbox] } }), 201);
    const dictionary = { APP_HOME: join(sandbox, 'app'), DB_URL: 'jdbc:test' };
    expectStatus(await client.put('/environments/dev', { hosts: ['local-1'], dictionary }), 201);
  }, TEST_TIMEOUT_MS);

  afterAll(async () => {
    await master?.cleanup();
    rmSync(sandbox, { recursive: true, force: true });
  });

  e2e('a package version is immutable: the same content again is 200 and a no-op, other content 409', async () => {
    const created = await importYaml(petclinic('1.0.0').yaml);
    expect(created.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    // The same content, even sent as JSON, is the same version: 200, nothing changed.
    expect(await importYaml(petclinic('1.0.0').yaml, 200)).toEqual(created);
    expect(expectStatus(await client.post<PackageWire>('/packages', petclinic('1.0.0').manifest), 200)).toEqual(created);

    const changed = petclinic('1.0.0').manifest;
    changed.deployables[0] = { ...changed.deployables[0], content: 'something else\n' };
    const error = expectError(await client.post('/packages', changed), 409, 'CONFLICT');
    expect(error.message).toContain(`petclinic 1.0.0 was already imported with different content (${created.digest}, this one is sha256:`);
    expect(await listAll<string>(client, '/applications/petclinic/versions')).toEqual(['1.0.0']);
    // The first content is what gets deployed.
    const preview = expectStatus(
      await client.post<{ deployeds: { deployable: string; properties: Record<string, unknown> }[] }>('/deployments/preview', {
        application: 'petclinic',
        version: '1.0.0',
        environment: 'dev',
      }),
      200,
    );
    const first = preview.deployeds.find((d) => d.deployable === changed.deployables[0].name);
    expect(first?.properties['content']).not.toBe('something else\n');
  });

  e2e('one unfinished deployment per application and environment: 409 names the blocking task, PENDING counts', async () => {
    const ledger = join(sandbox, 'lock.txt');
    await importYaml(commands('locked', '1.0.0', [{ name: 'run', create: `echo ran >> ${ledger}` }]));
    const first = await createDeployment('locked', '1.0.0');
    for (const path of ['/deployments', '/deployments/preview']) {
      const error = expectError(await client.post(path, { application: 'locked', version: '1.0.0', environment: 'dev' }), 409, 'CONFLICT');
      expect(error.message).toContain(`task ${first} (PENDING: Deploy locked 1.0.0 to dev) is unfinished`);
    }
    // Another environment is not blocked.
    expectStatus(await client.put('/environments/other', { hosts: ['local-1'], dictionary: {} }), 201);
    const elsewhere = await createDeployment('locked', '1.0.0', 'other');
    expectStatus(await client.post(`/tasks/${elsewhere}/cancel`), 200);
    expectStatus(await client.delete('/environments/other'), 204);

    // Cancelled, it blocks nothing any more.
    expectStatus(await client.post(`/tasks/${first}/cancel`), 200);
    const second = await createDeployment('locked', '1.0.0');
    const current = (await listAll<TaskView>(client, '/tasks')).filter((t) => t.description.includes('locked'));
    expect(current.map((t) => t.id)).toEqual([second]);
    await run(second);
    expect(lines(ledger)).toEqual(['ran']);
    await archive(second);
  });

  e2e('no planning against stale state: an undeploy waits until the EXECUTED update is archived', async () => {
    const v1 = await createDeployment('petclinic', '1.0.0');
    await run(v1);
    await archive(v1);
    await importYaml(petclinic('2.0.0').yaml);
    const v2 = await createDeployment('petclinic', '2.0.0');
    await run(v2);
    const refused = expectError(await client.post('/undeployments', { application: 'petclinic', environment: 'dev' }), 409, 'CONFLICT');
    expect(refused.message).toContain(`task ${v2} (EXECUTED: Update petclinic 2.0.0 to dev) is unfinished`);
    await archive(v2);
    const undeploy = expectStatus(
      await client.post<{ taskId: string; task: TaskView }>('/undeployments', { application: 'petclinic', environment: 'dev' }),
      201,
    );
    expect(undeploy.task.description).toBe('Undeploy petclinic 2.0.0 from dev');
    expectStatus(await client.post(`/tasks/${undeploy.taskId}/cancel`), 200);
  });

  e2e('a host or environment in use cannot be deleted: 409 names the user', async () => {
    const host = expectError(await client.delete('/hosts/local-1'), 409, 'CONFLICT');
    expect(host.message).toContain('host local-1 is in use by environment dev');
    expect(host.message).toContain('petclinic 2.0.0 deployed to dev');
    const environment = expectError(await client.delete('/environments/dev'), 409, 'CONFLICT');
    expect(environment.message).toContain('environment dev is in use by deployed application locked 1.0.0; deployed application petclinic 2.0.0');
    // Both still there: an undeploy never finds its host gone.
    expectStatus(await client.get('/hosts/local-1'), 200);
    expectStatus(await client.get('/environments/dev'), 200);

    expectStatus(await client.put('/hosts/spare', { type: 'local' }), 201);
    // Dropping the host from the environment would strand the deployeds on it just the same.
    const drop = expectError(await client.put('/environments/dev', { hosts: ['spare'], dictionary: {} }), 409, 'CONFLICT');
    expect(drop.message).toBe(
      'environment dev cannot drop hosts still in use: host local-1 holds locked 1.0.0; host local-1 holds petclinic 2.0.0; undeploy first (the undeployment needs the host)',
    );
    const check = expectStatus(await client.post<{ taskId: string }>('/control-tasks', { target: 'spare', control: 'checkConnection' }), 201);
    const busy = expectError(await client.delete('/hosts/spare'), 409, 'CONFLICT');
    expect(busy.message).toContain(`task ${check.taskId} (PENDING: checkConnection on spare)`);
    expectStatus(await client.post(`/tasks/${check.taskId}/cancel`), 200);
    expectStatus(await client.delete('/hosts/spare'), 204);
    expectError(await client.delete('/hosts/spare'), 404, 'HOST_NOT_FOUND');
  });

  e2e('steps of one block run in the order the package declares them, not alphabetically', async () => {
    const ledger = join(sandbox, 'order.txt');
    await importYaml(
      commands('ordered', '1.0.0', [
        { name: 'prep', create: `echo prep >> ${ledger}` },
        { name: 'long', create: `echo long >> ${ledger}` },
        { name: 'after', create: `echo after >> ${ledger}` },
      ]),
    );
    const id = await createDeployment('ordered', '1.0.0');
    const task = await run(id);
    expect(task.steps.map((s) => s.description)).toEqual(['Create prep on local-1', 'Create long on local-1', 'Create after on local-1']);
    expect(lines(ledger)).toEqual(['prep', 'long', 'after']);
    await archive(id);
  });
});

describe('the shutdown grace period of running steps (embedded master)', () => {
  let master: StandaloneMaster | undefined;
  let sandbox: string;

  beforeAll(() => {
    sandbox = mkdtempSync(join(tmpdir(), 'shipdeck-grace-'));
  });
  afterAll(async () => {
    await master?.cleanup();
    rmSync(sandbox, { recursive: true, force: true });
  });

  async function setUp(grace: string, manifest: Manifest): Promise<{ client: Api; id: string }> {
    master = await startMaster({ env: { SHIPDECK_TASK_SHUTDOWN_GRACE_PERIOD: grace } });
    const client = api(master.url);
    expectStatus(await client.put('/hosts/local-1', { type: 'local' }), 201);
    expectStatus(await client.put('/environments/dev', { hosts: ['local-1'], dictionary: {} }), 201);
    expectStatus(await client.post('/packages', manifestYaml(manifest), { contentType: YAML }), 201);
    const { taskId } = expectStatus(
      await client.post<{ taskId: string }>('/deployments', { application: manifest.application, version: '1.0.0', environment: 'dev' }),
      201,
    );
    expectStatus(await client.post(`/tasks/${taskId}/start`), 200);
    return { client, id: taskId };
  }

  it(
    'SIGTERM lets the running step finish, then the task is STOPPED and continues after a restart',
    withOutputOf(
      () => [master],
      async () => {
        const started = join(sandbox, 'started');
        const ledger = join(sandbox, 'grace.txt');
        const { client, id } = await setUp(
          '20s',
          commands('graceful', '1.0.0', [
            { name: 'first', create: `touch ${started}; sleep 2; echo first >> ${ledger}` },
            { name: 'second', create: `echo second >> ${ledger}` },
          ]),
        );
        await pollUntil(() => existsSync(started), { timeoutMs: 20_000, describe: () => 'the first step never started' });
        const stopping = Date.now();
        expect(await master!.kill('SIGTERM')).toEqual({ code: 0, signal: null });
        // It waited for the step (about 2 s), not for the whole grace period.
        expect(Date.now() - stopping).toBeLessThan(15_000);
        expect(master!.output()).toMatch(/waiting up to 20s \(task\.shutdownGracePeriod\) for 1 running step\(s\) to finish/);
        expect(master!.output()).toContain('every running step finished; shutting down');
        expect(lines(ledger)).toEqual(['first']);

        await master!.restart();
        const stopped = expectStatus(await client.get<TaskView>(`/tasks/${id}`), 200);
        expect({ state: stopped.state, steps: stopped.steps.map((s) => s.state) }).toEqual({ state: 'STOPPED', steps: ['DONE', 'PENDING'] });
        expectStatus(await client.post(`/tasks/${id}/start`), 200);
        await waitForTask(master!.url, id, ['EXECUTED']);
        expect(lines(ledger)).toEqual(['first', 'second']);
      },
    ),
    TEST_TIMEOUT_MS,
  );

  it(
    'a step still running when the grace period is over is interrupted: the task ends FAILED',
    withOutputOf(
      () => [master],
      async () => {
        await master?.cleanup();
        const started = join(sandbox, 'started-long');
        const { client, id } = await setUp('1s', commands('stubborn', '1.0.0', [{ name: 'forever', create: `touch ${started}; sleep 60` }]));
        await pollUntil(() => existsSync(started), { timeoutMs: 20_000, describe: () => 'the step never started' });
        expect(await master!.kill('SIGTERM')).toEqual({ code: 0, signal: null });
        expect(master!.output()).toContain('the grace period (task.shutdownGracePeriod, 1s) is over: interrupting the steps still running');
        await master!.restart();
        const failed = await waitForTask(master!.url, id, ['FAILED']);
        expect(failed.steps.map((s) => s.state)).toEqual(['FAILED']);
        expectStatus(await client.post(`/tasks/${id}/cancel`), 200);
      },
    ),
    TEST_TIMEOUT_MS,
  );
});

/**
 * Runs `shipdeck master ARGS` of a fresh installation directory until it exits (or `timeoutMs`),
 * with the embedded test environment at info level (debug logging would add stack traces) plus `env`.
 */
async function masterToExit(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 15_000,
): Promise<{ code: number | null; output: string; elapsedMs: number; home: string }> {
  const home = makeStandaloneHome();
  const port = env['SHIPDECK_SERVER_PORT'] ?? String(await freePort());
  const run = await runShipdeck(['master', ...args], {
    env: embeddedEnv(home, { SHIPDECK_LOG_LEVEL: 'info', SHIPDECK_SERVER_PORT: port, ...env }),
    timeoutMs,
  });
  if (run.timedOut) throw new Error(`shipdeck master ${args.join(' ')} did not exit within ${timeoutMs} ms:\n${run.stdout}${run.stderr}`);
  return { code: run.code, output: `${run.stdout}${run.stderr}`, elapsedMs: run.elapsedMs, home };
}

/** The lines a process wrote. */
const messages = (output: string) => output.split('\n').filter((l) => l.trim() !== '');

describe('start-up problems: one clear line each', () => {
  const homes: string[] = [];
  afterAll(() => homes.forEach((h) => rmSync(h, { recursive: true, force: true })));

  it('a busy port is reported first, before the database is touched', async () => {
    const blocker: Server = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => blocker.listen(port, resolve));
    try {
      const result = await masterToExit([], { SHIPDECK_SERVER_PORT: String(port) });
      homes.push(result.home);
      expect({ code: result.code, lines: messages(result.output) }).toEqual({
        code: 69,
        lines: [
          `shipdeck master: port ${port} (server.port) is already in use by another process (another master?): stop it, or choose another port with server.port in conf/shipdeck.yaml or SHIPDECK_SERVER_PORT`,
        ],
      });
      expect(existsSync(join(result.home, 'data'))).toBe(false);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
  }, TEST_TIMEOUT_MS);

  it('an unreachable database: what, where, what to do, no stack trace', async () => {
    const port = await freePort();
    const result = await masterToExit([], { SHIPDECK_DB_URL: `postgres://nobody@127.0.0.1:${port}/none` });
    homes.push(result.home);
    expect(result.code).toBe(69);
    expect(messages(result.output)).toEqual([
      expect.stringMatching(
        new RegExp(`^shipdeck master: cannot reach the database postgres://nobody@127.0.0.1:${port}/none \\(db\\.url\\): .*ECONNREFUSED.*; start PostgreSQL or fix db.url \\(SHIPDECK_DB_URL\\)$`),
      ),
    ]);
    expect(result.output).not.toMatch(/^\s+at /m);
  }, TEST_TIMEOUT_MS);

  it('an unknown SHIPDECK_* variable is a warning naming the closest key; --strict refuses to start', async () => {
    const strict = await masterToExit(['--strict'], { SHIPDECK_TASK_MAX_ACTIVE_TASK: '3' });
    homes.push(strict.home);
    expect({ code: strict.code, lines: messages(strict.output) }).toEqual({
      code: 78,
      lines: [
        'shipdeck master: invalid configuration: SHIPDECK_TASK_MAX_ACTIVE_TASK: unknown environment variable, ignored (did you mean SHIPDECK_TASK_MAX_ACTIVE_TASKS, key task.maxActiveTasks?)',
      ],
    });

    const master = await startMaster({ env: { SHIPDECK_TASK_MAX_ACTIVE_TASK: '3' } });
    try {
      expect(master.output()).toContain(
        'configuration: SHIPDECK_TASK_MAX_ACTIVE_TASK: unknown environment variable, ignored (did you mean SHIPDECK_TASK_MAX_ACTIVE_TASKS, key task.maxActiveTasks?)',
      );
    } finally {
      await master.cleanup();
    }
  }, TEST_TIMEOUT_MS);

  it('shipdeck master --help prints its usage and starts nothing', async () => {
    const port = await freePort();
    const result = await masterToExit(['--help'], { SHIPDECK_SERVER_PORT: String(port) });
    homes.push(result.home);
    expect(result.code).toBe(0);
    expect(result.output).toMatch(/^usage: shipdeck master/);
    expect(result.output).toContain('task.shutdownGracePeriod');
    expect(existsSync(join(result.home, 'data'))).toBe(false);
    // Nothing listens on its port.
    const probe = createServer();
    await new Promise<void>((resolve, reject) => {
      probe.once('error', reject);
      probe.listen(port, () => probe.close(() => resolve()));
    });
  }, TEST_TIMEOUT_MS);
});
