import { Readable } from 'node:stream';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepView, TaskView } from '@shipdeck/tasks';
import { FakeAnswer, FakeMaster, FakeRoutes, RecordedRequest, Sink, startFakeMaster } from '../test-support/fake-master';
import { runCli } from './run-cli';

function step(path: string, state: StepView['state'], description: string, failure: string | null = null): StepView {
  return {
    path,
    description,
    state,
    order: 50,
    host: 'local',
    ciType: 'cmd.Command',
    operation: 'CREATE',
    pauseBefore: false,
    startedAt: null,
    completedAt: null,
    failure,
  };
}

function task(state: TaskView['state'], steps: StepView[] = [], extra: Partial<TaskView> = {}): TaskView {
  return {
    id: 't1',
    type: 'DEPLOYMENT',
    description: 'Deploy petclinic 1.0.0 to dev',
    state,
    worker: null,
    attempt: 0,
    application: 'petclinic',
    version: '1.0.0',
    environment: 'dev',
    kind: 'INITIAL',
    failure: null,
    createdAt: '2030-01-01T00:00:00.000Z',
    scheduledAt: null,
    queuedAt: null,
    claimedAt: null,
    startedAt: null,
    completedAt: null,
    plan: {
      state: 'PENDING',
      phases: [{ path: '1', description: 'Deploy', state: 'PENDING', blocks: [{ path: '1-1', description: 'Deploy on local', state: 'PENDING', parallel: false, steps }] }],
    },
    steps,
    ...extra,
  };
}

const CONFIG = 'Create app-config on local';
const APP = 'Create app on local';

let master: FakeMaster | undefined;
let stdout: Sink;
let stderr: Sink;

beforeEach(() => {
  stdout = new Sink();
  stderr = new Sink();
});

afterEach(async () => {
  await master?.close();
  master = undefined;
});

async function serve(routes: FakeRoutes): Promise<FakeMaster> {
  master = await startFakeMaster(routes);
  return master;
}

/** Runs the CLI against the fake master (via --server unless the test sets its own). */
function cli(argv: string[], env: Record<string, string> = {}): Promise<number> {
  const args = master && !argv.includes('--server') && !env['SHIPDECK_SERVER'] ? ['--server', master.url, ...argv] : argv;
  return runCli(args, { stdout, stderr, env, retryDelayMs: 1, reconnectTimeoutMs: 2000 });
}

const is = (req: RecordedRequest, method: string, url: string) => req.method === method && req.url === url;
const json = (value: unknown, status = 200): FakeAnswer => ({ status, json: value });
/** One page of a list answer (spec §6), the last one unless `nextCursor` is given. */
const page = (items: unknown[], nextCursor: string | null = null): FakeAnswer => json({ items, nextCursor });
const calls = () => master!.requests.map((r) => `${r.method} ${r.url}`);

/**
 * The events of a task stream, one batch per connection: a connection without Last-Event-ID gets
 * the first batch, one that names the last event of batch N gets batch N+1; each connection ends
 * after its batch, like a stream whose master dies, so the CLI must reconnect to go on.
 */
function eventBatches(batches: { event: string; data: unknown }[][]): (req: RecordedRequest) => FakeAnswer {
  return (req) => {
    const last = req.headers['last-event-id'];
    const index = typeof last === 'string' ? Number(last.split('.')[0]) + 1 : 0;
    return { events: (batches[index] ?? []).map((e, i) => ({ ...e, id: `${index}.${i}` })) };
  };
}

/** The event batches of a task that goes through `states`: what changed from one to the next, as the master streams it. */
function batchesOf(states: TaskView[]): { event: string; data: unknown }[][] {
  let previous: TaskView | undefined;
  return states.map((t) => {
    const batch: { event: string; data: unknown }[] = [];
    for (const st of t.steps) {
      if (previous?.steps.find((p) => p.path === st.path)?.state !== st.state) batch.push({ event: 'step', data: { path: st.path, state: st.state } });
    }
    if (previous?.state !== t.state) batch.push({ event: 'state', data: { state: t.state } });
    previous = t;
    return batch;
  }).filter((batch) => batch.length > 0);
}

/** A master whose task goes through `states` in its event stream, and then shows the last of them. */
function deploymentMaster(states: TaskView[], log = ''): Promise<FakeMaster> {
  const events = eventBatches(batchesOf(states));
  return serve((req) => {
    if (is(req, 'POST', '/api/v1/deployments') || is(req, 'POST', '/api/v1/undeployments')) {
      const started = (JSON.parse(req.body) as { start?: boolean }).start === true;
      return json({ taskId: 't1', task: task(started ? 'QUEUED' : 'PENDING', states[0].steps.map((s) => ({ ...s, state: 'PENDING' }))) }, 201);
    }
    if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
    if (is(req, 'GET', '/api/v1/tasks/t1')) return json(states[states.length - 1]);
    if (req.method === 'GET' && req.url.endsWith('/log')) return { text: log };
    return undefined;
  });
}

describe('import', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shipdeck-cli-'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it.each([
    ['petclinic.yaml', 'application: petclinic\nversion: "1.0.0"\n', 'application/yaml'],
    ['petclinic.yml', 'application: petclinic\nversion: "1.0.0"\n', 'application/yaml'],
    ['petclinic.JSON', '{"application":"petclinic","version":"1.0.0"}', 'application/json'],
  ])('posts %s as is with its media type', async (name, content, type) => {
    const file = join(dir, name);
    await writeFile(file, content);
    await serve((req) => (is(req, 'POST', '/api/v1/packages') ? json({ application: 'petclinic', version: '1.0.0', deployables: [] }, 201) : undefined));
    expect(await cli(['import', file])).toBe(0);
    expect(stdout.text).toBe('imported petclinic 1.0.0\n');
    expect(master!.requests[0].headers['content-type']).toBe(type);
    expect(master!.requests[0].body).toBe(content);
  });

  it('prints the validation details of a refused manifest', async () => {
    const file = join(dir, 'bad.yaml');
    await writeFile(file, 'version: 1\n');
    await serve(() =>
      json(
        {
          error: {
            code: 'VALIDATION_FAILED',
            message: 'invalid manifest',
            details: [
              { field: 'application', message: 'is required' },
              { field: 'deployables[0].type', message: 'unknown CI type foo' },
            ],
          },
        },
        400,
      ),
    );
    expect(await cli(['import', file])).toBe(1);
    expect(stderr.lines).toEqual([
      'error: VALIDATION_FAILED: invalid manifest',
      '  application: is required',
      '  deployables[0].type: unknown CI type foo',
    ]);
    expect(stdout.text).toBe('');
  });

  it('says when the file cannot be read', async () => {
    expect(await cli(['--server', 'http://127.0.0.1:9', 'import', join(dir, 'missing.yaml')])).toBe(1);
    expect(stderr.text).toMatch(/^error: cannot read .*missing\.yaml: ENOENT/);
  });
});

describe('deploy', () => {
  it('creates and starts the deployment in one request and prints the task id', async () => {
    await deploymentMaster([task('PENDING', [step('1-1-1', 'PENDING', CONFIG)])]);
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--skip', '1-1-2', '--pause-before', '1-1-3'])).toBe(0);
    expect(calls()).toEqual(['POST /api/v1/deployments']);
    expect(JSON.parse(master!.requests[0].body)).toEqual({
      application: 'petclinic',
      version: '1.0.0',
      environment: 'dev',
      skipSteps: ['1-1-2'],
      pauseBefore: ['1-1-3'],
      start: true,
    });
    expect(stdout.lines).toEqual(['task t1 created and started: Deploy petclinic 1.0.0 to dev', 'task t1 QUEUED']);
  });

  it('--wait prints every step and task state change and exits 0 once executed', async () => {
    await deploymentMaster([
      task('QUEUED', [step('1-1-1', 'PENDING', CONFIG), step('1-1-2', 'SKIPPED', APP)]),
      task('EXECUTING', [step('1-1-1', 'EXECUTING', CONFIG), step('1-1-2', 'SKIPPED', APP)]),
      task('EXECUTING', [step('1-1-1', 'EXECUTING', CONFIG), step('1-1-2', 'SKIPPED', APP)]),
      task('EXECUTED', [step('1-1-1', 'DONE', CONFIG), step('1-1-2', 'SKIPPED', APP)]),
    ]);
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    expect(stdout.lines).toEqual([
      'task t1 created and started: Deploy petclinic 1.0.0 to dev',
      'task t1 QUEUED',
      '  1-1-2  SKIPPED    Create app on local',
      '  1-1-1  EXECUTING  Create app-config on local',
      'task t1 EXECUTING',
      '  1-1-1  DONE       Create app-config on local',
      'task t1 EXECUTED',
      'archive it to record the new deployed state: shipdeck tasks archive t1',
    ]);
    expect(stderr.text).toBe('');
  });

  it('--wait exits 1 when the task fails, with the tail of the failed step log', async () => {
    const log = Array.from({ length: 30 }, (_, i) => `log line ${i + 1}`).join('\n') + '\n';
    await deploymentMaster(
      [
        task('EXECUTING', [step('1-1-1', 'DONE', CONFIG), step('1-1-2', 'EXECUTING', APP)]),
        task('FAILED', [step('1-1-1', 'DONE', CONFIG), step('1-1-2', 'FAILED', APP, 'exit code 3')], { failure: 'step 1-1-2 failed' }),
      ],
      log,
    );
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(1);
    expect(stdout.lines.slice(-2)).toEqual(['  1-1-2  FAILED     Create app on local', 'task t1 FAILED']);
    expect(calls()).toContain('GET /api/v1/tasks/t1/steps/1-1-2/log');
    expect(stderr.lines).toEqual([
      'error: task t1 ended FAILED: step 1-1-2 failed',
      '  step 1-1-2 failed: Create app on local: exit code 3',
      '  last 20 lines of its log:',
      ...Array.from({ length: 20 }, (_, i) => `    | log line ${i + 11}`),
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });

  it('--wait keeps reconnecting while the master answers 503, resuming after the last event', async () => {
    let connections = 0;
    const events = eventBatches([[{ event: 'state', data: { state: 'EXECUTING' } }], [{ event: 'state', data: { state: 'EXECUTED' } }]]);
    await serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: task('QUEUED') }, 201);
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) {
        connections++;
        if (connections === 2) return json({ error: { code: 'NOT_READY', message: 'database down', details: [] } }, 503);
        return events(req);
      }
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(task('EXECUTED'));
      return undefined;
    });
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    const lost = `  (lost contact with Shipdeck at ${master!.url}; retrying for up to 2s)`;
    expect(stderr.lines).toEqual([lost, '  (reconnected)']);
    expect(stdout.lines.slice(0, 4)).toEqual(['task t1 created and started: Deploy petclinic 1.0.0 to dev', 'task t1 QUEUED', 'task t1 EXECUTING', 'task t1 EXECUTED']);
    const resumedFrom = master!.requests.filter((r) => r.url === '/api/v1/tasks/t1/events').map((r) => r.headers['last-event-id']);
    expect(resumedFrom).toEqual([undefined, '0.0', '0.0']);
    expect(master!.requests.find((r) => r.url.endsWith('/events'))?.headers['accept']).toBe('text/event-stream');
  });

  it('--wait drops a stream that stays silent and reopens it after the last event', async () => {
    const batches = [[{ event: 'state', data: { state: 'EXECUTING' } }], [{ event: 'state', data: { state: 'EXECUTED' } }]];
    const events = eventBatches(batches);
    await serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: task('PENDING') }, 201);
      if (is(req, 'POST', '/api/v1/tasks/t1/start')) return json(task('QUEUED'));
      // The first stream hangs after its events, as behind a master that stopped answering.
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return { ...events(req), hold: req.headers['last-event-id'] === undefined };
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(task('EXECUTED'));
      return undefined;
    });
    const argv = ['--server', master!.url, 'deploy', 'petclinic', '1.0.0', 'dev', '--wait'];
    expect(await runCli(argv, { stdout, stderr, env: {}, retryDelayMs: 1, streamIdleTimeoutMs: 200 })).toBe(0);
    expect(stdout.lines).toContain('task t1 EXECUTED');
    expect(master!.requests.filter((r) => r.url.endsWith('/events')).map((r) => r.headers['last-event-id'])).toEqual([undefined, '0.0']);
  });

  it('--wait gives up when the master stays out of reach', async () => {
    await serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: task('PENDING') }, 201);
      if (is(req, 'POST', '/api/v1/tasks/t1/start')) return json(task('QUEUED'));
      return json({ error: { code: 'NOT_READY', message: 'database down', details: [] } }, 503);
    });
    const code = await runCli(['--server', master!.url, 'deploy', 'petclinic', '1.0.0', 'dev', '--wait'], {
      stdout,
      stderr,
      env: {},
      retryDelayMs: 5,
      reconnectTimeoutMs: 100,
    });
    expect(code).toBe(1);
    expect(stderr.lines.at(-1)).toBe('error: NOT_READY: database down');
  });

  it('--wait --json prints only the settled task', async () => {
    await deploymentMaster([task('EXECUTED', [step('1-1-1', 'DONE', CONFIG)])]);
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait', '--json'])).toBe(0);
    expect(JSON.parse(stdout.text)).toMatchObject({ id: 't1', state: 'EXECUTED' });
  });
});

describe('undeploy', () => {
  it('--wait exits 1 when the task stops at a pause', async () => {
    const paused = { ...step('1-1-1', 'PAUSED', 'Destroy app on local'), pauseBefore: true };
    await deploymentMaster([task('STOPPED', [paused])]);
    expect(await cli(['undeploy', 'petclinic', 'dev', '--wait'])).toBe(1);
    expect(calls()[0]).toBe('POST /api/v1/undeployments');
    expect(JSON.parse(master!.requests[0].body)).toEqual({ application: 'petclinic', environment: 'dev', start: true });
    expect(stderr.lines).toEqual([
      'error: task t1 ended STOPPED',
      '  paused before step 1-1-1: Destroy app on local',
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });

  it('--wait says why a task may have stopped when nobody here asked (a stop, or a master shutting down)', async () => {
    await deploymentMaster([task('STOPPING', [step('1-1-1', 'EXECUTING', APP)]), task('STOPPED', [step('1-1-1', 'DONE', APP), step('1-1-2', 'PENDING', CONFIG)])]);
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(1);
    expect(stdout.lines).toContain('task t1 STOPPED');
    expect(stderr.lines).toEqual([
      'error: task t1 ended STOPPED',
      '  it stopped after its running step(s): someone ran `shipdeck tasks stop`, or its master was shut down',
      '  (an embedded master lets running steps finish within task.shutdownGracePeriod before it exits)',
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });
});

describe('tasks', () => {
  it('lists as a table, passing the filters', async () => {
    await serve(() => page([task('FAILED'), { ...task('EXECUTING'), id: 't22', type: 'CONTROL', description: 'Check local' }]));
    expect(await cli(['tasks', 'list', '--state', 'FAILED', '--type', 'DEPLOYMENT'])).toBe(0);
    expect(calls()).toEqual(['GET /api/v1/tasks?state=FAILED&type=DEPLOYMENT']);
    expect(stdout.lines).toEqual([
      'ID   TYPE        STATE      DESCRIPTION',
      't1   DEPLOYMENT  FAILED     Deploy petclinic 1.0.0 to dev',
      't22  CONTROL     EXECUTING  Check local',
    ]);
  });

  it('lists as JSON with --json', async () => {
    await serve(() => page([task('FAILED')]));
    expect(await cli(['tasks', 'list', '--json'])).toBe(0);
    expect(JSON.parse(stdout.text)).toEqual([task('FAILED')]);
  });

  it('follows nextCursor to the last page', async () => {
    await serve((req) => (req.url.includes('cursor=c2') ? page([task('FAILED')]) : page([{ ...task('EXECUTING'), id: 't0' }], 'c2')));
    expect(await cli(['tasks', 'list', '--state', 'FAILED'])).toBe(0);
    expect(calls()).toEqual(['GET /api/v1/tasks?state=FAILED', 'GET /api/v1/tasks?state=FAILED&cursor=c2']);
    expect(stdout.lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['t0', 't1']);
  });

  it('says so when there is none', async () => {
    await serve(() => page([]));
    expect(await cli(['tasks', 'list'])).toBe(0);
    expect(stdout.text).toBe('no tasks\n');
  });

  it('shows a task with its plan tree', async () => {
    const t = task('FAILED', [step('1-1-1', 'DONE', CONFIG), step('1-1-2', 'FAILED', APP, 'exit code 3')], { worker: 'w1' });
    await serve(() => json(t));
    expect(await cli(['tasks', 'show', 't1'])).toBe(0);
    expect(stdout.text).toContain('state:       FAILED\n');
    expect(stdout.text).toContain('deployment:  petclinic 1.0.0 → dev (INITIAL)\n');
    expect(stdout.text).toContain(
      ['  1      PENDING    Deploy', '    1-1    PENDING    Deploy on local', '      1-1-1  DONE       Create app-config on local', '      1-1-2  FAILED     Create app on local'].join('\n'),
    );
    expect(stdout.text).toContain('exit code 3');
  });

  it.each([
    ['start', 'QUEUED'],
    ['stop', 'STOPPING'],
    ['abort', 'ABORTING'],
    ['cancel', 'CANCELLING'],
    ['archive', 'DONE'],
  ] as const)('%s prints the new state', async (operation, state) => {
    await serve((req) => (is(req, 'POST', `/api/v1/tasks/t1/${operation}`) ? json(task(state)) : undefined));
    expect(await cli(['tasks', operation, 't1'])).toBe(0);
    expect(stdout.text).toBe(`task t1 ${state}\n`);
  });

  it('prints an illegal transition refused by the server', async () => {
    await serve(() => json({ error: { code: 'ILLEGAL_TRANSITION', message: 'cannot stop a task in state PENDING', details: [] } }, 409));
    expect(await cli(['tasks', 'stop', 't1'])).toBe(1);
    expect(stderr.text).toBe('error: ILLEGAL_TRANSITION: cannot stop a task in state PENDING\n');
  });

  it('prints a step log', async () => {
    await serve((req) => (is(req, 'GET', '/api/v1/tasks/t1/steps/1-1-2/log') ? { text: 'one\ntwo\n' } : undefined));
    expect(await cli(['tasks', 'log', 't1', '1-1-2'])).toBe(0);
    expect(stdout.text).toBe('one\ntwo\n');
  });

  it('skips a step', async () => {
    await serve(() => json(task('PENDING', [step('1-1-2', 'SKIPPED', APP)])));
    expect(await cli(['tasks', 'skip', 't1', '1-1-2'])).toBe(0);
    // `t1` is not a full id: the CLI looks for a task it prefixes (the fake master lists none).
    expect(calls()).toEqual(['GET /api/v1/tasks', 'GET /api/v1/archive/tasks', 'POST /api/v1/tasks/t1/steps/1-1-2/skip']);
    expect(stdout.text).toBe('task t1: step 1-1-2 SKIPPED\n');
  });

  it('escapes ids in paths', async () => {
    await serve(() => json(task('PENDING')));
    await cli(['tasks', 'show', 'a/b c']);
    expect(calls()).toEqual(['GET /api/v1/tasks', 'GET /api/v1/archive/tasks', 'GET /api/v1/tasks/a%2Fb%20c']);
  });

  it('prints every detail of a refused query', async () => {
    await serve(() =>
      json({ error: { code: 'VALIDATION_FAILED', message: 'invalid query', details: [{ field: 'state', message: 'must be one of PENDING, …' }] } }, 400),
    );
    expect(await cli(['tasks', 'list', '--state', 'NOPE'])).toBe(1);
    expect(stderr.lines).toEqual(['error: VALIDATION_FAILED: invalid query', '  state: must be one of PENDING, …']);
  });
});

describe('hosts and environments', () => {
  it('puts a host, telling created from updated', async () => {
    let exists = false;
    await serve((req) => {
      const status = exists ? 200 : 201;
      exists = true;
      return json(JSON.parse(req.body), status);
    });
    expect(await cli(['hosts', 'put', 'web1', '--tag', 'web', '--tag', 'db'])).toBe(0);
    expect(await cli(['hosts', 'put', 'web1', '--type', 'local'])).toBe(0);
    expect(await cli(['hosts', 'put', 'web1', '--allowed-root', '/opt/a', '--allowed-root', '/srv'])).toBe(0);
    expect(stdout.lines).toEqual(['host web1 created', 'host web1 updated', 'host web1 updated']);
    expect(master!.requests.map((r) => [r.method, r.url, JSON.parse(r.body)])).toEqual([
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: ['web', 'db'] }],
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: [] }],
      ['PUT', '/api/v1/hosts/web1', { type: 'local', tags: [], properties: { allowedRoots: ['/opt/a', '/srv'] } }],
    ]);
  });

  it('lists hosts', async () => {
    await serve(() => page([{ name: 'local', type: 'local', tags: ['web', 'db'], properties: {} }]));
    expect(await cli(['hosts', 'list'])).toBe(0);
    expect(stdout.lines).toEqual(['NAME   TYPE   TAGS', 'local  local  web,db']);
  });

  it('puts an environment with its dictionary', async () => {
    await serve((req) => json({ name: 'dev', ...JSON.parse(req.body) }, 201));
    expect(await cli(['environments', 'put', 'dev', '--host', 'a', '--host', 'b', '--set', 'K=V', '--set', 'URL=http://x/?a=b', '--set', 'EMPTY='])).toBe(0);
    expect(JSON.parse(master!.requests[0].body)).toEqual({ hosts: ['a', 'b'], dictionary: { K: 'V', URL: 'http://x/?a=b', EMPTY: '' } });
    expect(stdout.text).toBe('environment dev created\n');
  });

  it.each([
    [['environments', 'put', 'dev'], /needs at least one --host/],
    [['environments', 'put', 'dev', '--host', 'a', '--set', 'NOEQUALS'], /--set expects KEY=VALUE/],
  ])('refuses %j with a usage error', async (argv, message) => {
    await serve(() => undefined);
    expect(await cli(argv)).toBe(64);
    expect(stderr.text).toMatch(message);
    expect(stderr.text).toContain('shipdeck environments put NAME --host HOST...');
    expect(master!.requests).toEqual([]);
  });

  it('lists environments', async () => {
    await serve(() => page([{ name: 'dev', hosts: ['a', 'b'], dictionary: { K: 'V' }, secrets: { PW: '******' } }]));
    expect(await cli(['environments', 'list'])).toBe(0);
    expect(stdout.lines).toEqual(['NAME  HOSTS  DICTIONARY  SECRETS', 'dev   a,b    K           PW']);
  });

  it('puts secrets given inline, read from standard input, and kept as stored', async () => {
    await serve((req) =>
      req.method === 'GET'
        ? json({ name: 'dev', hosts: ['a'], dictionary: {}, secrets: { OLD: '******', PW: '******' } })
        : json({ name: 'dev' }, 200),
    );
    const stdin = Object.assign(Readable.from(['from-stdin\n']), { isTTY: false });
    const argv = ['--server', master!.url, 'environments', 'put', 'dev', '--host', 'a', '--secret', 'PW=inline', '--secret', 'TOKEN', '--keep-secrets'];
    expect(await runCli(argv, { stdout, stderr, env: {}, stdin })).toBe(0);
    const put = master!.requests.find((r) => r.method === 'PUT')!;
    expect(JSON.parse(put.body)).toEqual({ hosts: ['a'], dictionary: {}, secrets: { PW: 'inline', TOKEN: 'from-stdin', OLD: '******' } });
    expect(stdout.text + stderr.text).not.toContain('from-stdin');
  });
});

describe('ids by prefix and workers by name', () => {
  const A = 'ee666bea-0000-4000-8000-000000000001';
  const B = 'ee666bea-1111-4000-8000-000000000002';
  const C = 'aa000000-2222-4000-8000-000000000003';

  it('resolves a unique task id prefix among current and archived tasks', async () => {
    await serve((req) => {
      if (is(req, 'GET', '/api/v1/tasks')) return page([task('PENDING', [], { id: A })]);
      if (is(req, 'GET', '/api/v1/archive/tasks')) return json({ items: [task('DONE', [], { id: C })], nextCursor: null });
      return json(task('DONE', [], { id: req.url.split('/')[4] }));
    });
    expect(await cli(['tasks', 'archive', 'aa00'])).toBe(0);
    expect(calls()).toContain(`POST /api/v1/tasks/${C}/archive`);
    expect(await cli(['tasks', 'show', 'EE666'])).toBe(0);
    expect(calls()).toContain(`GET /api/v1/tasks/${A}`);
  });

  it('refuses an ambiguous prefix, listing the candidates, and sends nothing', async () => {
    await serve((req) => (is(req, 'GET', '/api/v1/tasks') ? page([task('PENDING', [], { id: A }), task('FAILED', [], { id: B })]) : page([])));
    expect(await cli(['tasks', 'cancel', 'ee666bea'])).toBe(1);
    expect(stderr.lines).toEqual([
      'error: task id prefix ee666bea is ambiguous; it matches:',
      `  ${A}  PENDING  Deploy petclinic 1.0.0 to dev`,
      `  ${B}  FAILED  Deploy petclinic 1.0.0 to dev`,
      'give more characters or the full id',
    ]);
    expect(calls().filter((c) => c.startsWith('POST'))).toEqual([]);
  });

  it('names workers by name or id prefix; a shared name is ambiguous', async () => {
    const workers = [
      { id: 'w-123', name: 'local-1', state: 'CONNECTED' },
      { id: 'w-456', name: 'box', state: 'DISCONNECTED' },
      { id: 'w-789', name: 'box', state: 'CONNECTED' },
    ];
    await serve((req) => (is(req, 'GET', '/api/v1/workers') ? page(workers) : req.method === 'DELETE' ? { status: 204 } : json({ id: 'w-123', state: 'DRAINING' })));
    expect(await cli(['workers', 'drain', 'local-1'])).toBe(0);
    expect(await cli(['workers', 'remove', 'w-45'])).toBe(0);
    expect(stdout.lines).toEqual(['worker w-123 DRAINING', 'worker w-456 removed']);
    expect(await cli(['workers', 'drain', 'box'])).toBe(1);
    expect(stderr.lines[0]).toBe('error: worker name box is ambiguous; it matches:');
    expect(calls().filter((c) => !c.startsWith('GET'))).toEqual(['POST /api/v1/workers/w-123/drain', 'DELETE /api/v1/workers/w-456']);
  });
});

describe('following output', () => {
  /** A task whose one step writes three lines, streamed in pieces over three connections. */
  function scriptedTask(): FakeRoutes {
    const events = eventBatches([
      [
        { event: 'log', data: { path: '1-1-1', text: 'one\n' } },
        { event: 'step', data: { path: '1-1-1', state: 'EXECUTING' } },
        { event: 'state', data: { state: 'EXECUTING' } },
      ],
      [{ event: 'log', data: { path: '1-1-1', text: 'two\nthr' } }],
      [
        { event: 'log', data: { path: '1-1-1', text: 'ee' } },
        { event: 'step', data: { path: '1-1-1', state: 'DONE' } },
        { event: 'state', data: { state: 'EXECUTED' } },
      ],
    ]);
    return (req) => {
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(task('EXECUTED', [step('1-1-1', 'DONE', APP)]));
      return undefined;
    };
  }

  it('tasks log --follow prints the output as it arrives and exits 0 when the step is done', async () => {
    await serve(scriptedTask());
    expect(await cli(['tasks', 'log', 't1', '1-1-1', '--follow'])).toBe(0);
    expect(stdout.lines).toEqual(['one', 'two', 'three']);
  });

  it('tasks log --follow exits 1 when the step fails, and 1 for a step the task does not have', async () => {
    const events = eventBatches([
      [{ event: 'step', data: { path: '1-1-1', state: 'EXECUTING' } }, { event: 'state', data: { state: 'EXECUTING' } }],
      [{ event: 'log', data: { path: '1-1-1', text: 'boom' } }, { event: 'step', data: { path: '1-1-1', state: 'FAILED' } }],
    ]);
    await serve((req) => {
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
      return json(task('FAILED', [step('1-1-1', 'FAILED', APP, 'exit code 3')]));
    });
    expect(await cli(['tasks', 'log', 't1', '1-1-1', '--follow'])).toBe(1);
    expect(stdout.lines).toEqual(['boom']);
    expect(stderr.lines).toEqual(['error: step 1-1-1 FAILED: exit code 3 (task EXECUTING)']);
    stderr = new Sink();
    expect(await cli(['tasks', 'log', 't1', '9-9-9', '--follow'])).toBe(1);
    expect(stderr.lines).toEqual(['error: STEP_NOT_FOUND: step 9-9-9 does not exist in task t1']);
  });

  it('--wait interleaves step output with the state lines, plain when not a terminal', async () => {
    const routes = scriptedTask();
    await serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: task('QUEUED', [step('1-1-1', 'PENDING', APP)]) }, 201);
      return routes(req);
    });
    expect(await cli(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    expect(stdout.text).not.toContain('\r');
    expect(stdout.lines).toEqual([
      'task t1 created and started: Deploy petclinic 1.0.0 to dev',
      'task t1 QUEUED',
      `  1-1-1  EXECUTING  ${APP}`,
      '    1-1-1 | one',
      'task t1 EXECUTING',
      '    1-1-1 | two',
      '    1-1-1 | three',
      `  1-1-1  DONE       ${APP}`,
      'task t1 EXECUTED',
      'archive it to record the new deployed state: shipdeck tasks archive t1',
    ]);
  });

  it('draws a progress line on a terminal and clears it at the end', async () => {
    await serve(scriptedTask());
    const tty = Object.assign(new Sink(), { isTTY: true });
    const code = await runCli(['--server', master!.url, 'tasks', 'log', 't1', '1-1-1', '--follow'], {
      stdout: tty,
      stderr,
      env: {},
      retryDelayMs: 1,
    });
    expect(code).toBe(0);
    expect(tty.text).toMatch(/\r\x1b\[Kstep 1-1-1 EXECUTING · task EXECUTING · 0:\d\d elapsed/);
    // What remains once the carriage returns are honoured: the output alone.
    const visible = tty.text.replace(/[^\n]*\r\x1b\[K/g, '');
    expect(visible).toBe('one\ntwo\nthree\n');
  });
});

describe('workers', () => {
  it('lists workers', async () => {
    await serve(() =>
      page([{ id: 'w1', name: 'box', address: 'box:8200', state: 'CONNECTED', deploymentTasks: 2, controlTasks: 0, configHash: 'h', capacity: 4, lastSeen: '2030-01-01T00:00:00Z' }]),
    );
    expect(await cli(['workers', 'list'])).toBe(0);
    expect(calls()).toEqual(['GET /api/v1/workers']);
    expect(stdout.lines[1].split(/\s+/)).toEqual(['w1', 'box', 'box:8200', 'CONNECTED', '2', '0', '4', '2030-01-01T00:00:00Z']);
  });

  it('marks a worker that left after draining', async () => {
    await serve(() =>
      page([{ id: 'w2', name: 'old', address: 'old:1', state: 'DISCONNECTED', deploymentTasks: 0, controlTasks: 0, capacity: 1, lastSeen: '2030-01-01T00:00:00Z', drained: true }]),
    );
    expect(await cli(['workers', 'list'])).toBe(0);
    expect(stdout.lines[1].split(/\s+/)).toEqual(['w2', 'old', 'old:1', 'DISCONNECTED(drained)', '0', '0', '1', '2030-01-01T00:00:00Z']);
  });

  it('drains a worker and restores ghost tasks', async () => {
    await serve((req) => (req.url.endsWith('/drain') ? json({ id: 'w1', state: 'DRAINING' }) : { status: 204 }));
    expect(await cli(['workers', 'drain', 'w1'])).toBe(0);
    expect(await cli(['workers', 'restore-ghost-tasks'])).toBe(0);
    expect(calls()).toEqual(['GET /api/v1/workers', 'POST /api/v1/workers/w1/drain', 'POST /api/v1/workers/restore-ghost-tasks']);
    expect(stdout.lines).toEqual(['worker w1 DRAINING', 'asked every worker to re-register its ghost tasks']);
  });

  it("prints the server's message when the route does not exist yet", async () => {
    await serve(() => undefined);
    expect(await cli(['workers', 'list'])).toBe(1);
    expect(stderr.text).toBe('error: NOT_FOUND: no such endpoint: GET /api/v1/workers\n');
  });

  it('prints a 501 that is not in the API error shape', async () => {
    await serve(() => ({ status: 501, text: 'Not Implemented\n' }));
    expect(await cli(['workers', 'restore-ghost-tasks'])).toBe(1);
    expect(stderr.text).toBe('error: HTTP_501: Not Implemented\n');
  });
});

describe('server, usage and connection', () => {
  it('takes the server from SHIPDECK_SERVER, and --server over it', async () => {
    const m = await serve(() => page([]));
    expect(await cli(['hosts', 'list'], { SHIPDECK_SERVER: `${m.url}/` })).toBe(0);
    expect(await cli(['--server', m.url, 'hosts', 'list'], { SHIPDECK_SERVER: 'http://127.0.0.1:9' })).toBe(0);
    expect(m.requests).toHaveLength(2);
  });

  it('exits 2 with advice when nothing listens', async () => {
    const m = await startFakeMaster(() => undefined);
    const url = m.url;
    await m.close();
    expect(await cli(['--server', url, 'tasks', 'list'])).toBe(2);
    expect(stderr.lines).toEqual([
      `error: cannot reach Shipdeck at ${url} (from --server): connect ECONNREFUSED ${url.replace('http://', '')}`,
      `  is a master running at ${url}?`,
      '  to use another master, pass --server URL or set SHIPDECK_SERVER=URL',
    ]);
  });

  it('defaults to http://localhost:4516, and says more when the failure is not a refusal', async () => {
    const refused = Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error('getaddrinfo EAI_AGAIN'), { code: 'EAI_AGAIN' }) });
    const fetchSpy = jest.spyOn(globalThis, 'fetch').mockRejectedValue(refused);
    try {
      expect(await runCli(['hosts', 'list'], { stdout, stderr, env: {} })).toBe(2);
      expect(fetchSpy.mock.calls[0][0]).toBe('http://localhost:4516/api/v1/hosts');
      expect(stderr.lines).toEqual([
        'error: cannot reach Shipdeck at http://localhost:4516 (the default server): getaddrinfo EAI_AGAIN',
        '  is a master running there? Start one with: npx shipdeck master (or npm start)',
        '  to use another master, pass --server URL or set SHIPDECK_SERVER=URL',
      ]);
    } finally {
      fetchSpy.mockRestore();
    }
  });

  it.each([
    [['frobnicate'], 'error: unknown command frobnicate'],
    [['improt', 'x.yaml'], 'error: unknown command improt; did you mean import?'],
    [['tasks', 'list', '--bogus'], "error: unknown option '--bogus'"],
    [['--server', 'not a url', 'tasks', 'list'], 'error: --server must be a URL'],
    [['--server', 'ftp://x', 'tasks', 'list'], 'error: --server must be an http:// or https:// URL'],
    [[], 'error: no command given'],
  ])('exits 64 with usage on stderr for %j', async (argv, message) => {
    expect(await runCli(argv, { stdout, stderr, env: {} })).toBe(64);
    expect(stderr.text.startsWith(message)).toBe(true);
    expect(stderr.text).toContain('usage:');
    expect(stdout.text).toBe('');
  });

  it('prints help on stdout', async () => {
    expect(await runCli(['help'], { stdout, stderr, env: {} })).toBe(0);
    expect(stdout.text).toContain('shipdeck workers restore-ghost-tasks');
    expect(stderr.text).toBe('');
    stdout.text = '';
    expect(await runCli(['deploy', '--help'], { stdout, stderr, env: {} })).toBe(0);
    expect(stdout.text).toMatch(/^usage:\n  shipdeck deploy APP VERSION ENV/);
    stdout.text = '';
    expect(await runCli(['help', 'worker'], { stdout, stderr, env: {} })).toBe(0);
    expect(stdout.text).toMatch(/^usage: shipdeck worker -master HOST:PORT/);
  });

  it('prints its version', async () => {
    expect(await runCli(['--version'], { stdout, stderr, env: {}, version: '1.2.3' })).toBe(0);
    expect(stdout.text).toBe('shipdeck 1.2.3\n');
  });
});
