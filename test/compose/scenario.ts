/*
 * The compose test (issue 12), run by test/compose/run.sh (`npm run test:compose`) once the engine
 * and the stand-in base images are there. It drives the shipped docker/compose.yaml (with
 * test/compose/compose.override.yaml, which only swaps in the stand-ins) through HAProxy, as a
 * platform team would:
 *
 *   1. build the image, bring the whole stack up from scratch, wait for every health check;
 *   2. log in through HAProxy as `admin` (session cookie); deploy the example package
 *      (examples/petclinic) through HAProxy;
 *   3. scale workers 1 → 3 and show 30 held tasks spread over all three (10 each: capacity);
 *      Prometheus (the `monitoring` profile) scrapes both masters and the three workers, and its
 *      HTTP API answers the tasks, steps, claims and workers the scenario made;
 *   4. SIGKILL a worker container mid-step, start it again: the step that was running is FAILED,
 *      the task FAILED and waiting (spec §5); started again, it continues and completes;
 *   5. drain a worker running a task: DRAINING, the next task goes elsewhere, its task completes,
 *      its container exits 0 and stays down;
 *   6. SIGKILL and restart a master while a task runs: the task keeps running, the master is back
 *      and knows its worker again, the task completes with each step run exactly once;
 *   7. tear everything down (containers, volumes, networks) and check nothing is left.
 *
 * It prints the image size, the time to build and to bring the stack up, and the master's
 * start-up time. Every wait polls with a deadline; held steps wait for a release file on the
 * shared export volume, so nothing depends on timing.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import { Compose, inspect, sh } from './docker';
import { Prometheus, withIntervals } from './prometheus';
import { Session, check, waitFor } from './session';

const root = resolve(__dirname, '..', '..');
const project = process.env.SHIPDECK_COMPOSE_PROJECT ?? 'shipdeck-composetest';
const httpPort = Number(process.env.SHIPDECK_COMPOSE_TEST_PORT ?? 14516);
const base = `http://127.0.0.1:${httpPort}`;
const prometheusPort = Number(process.env.SHIPDECK_COMPOSE_PROMETHEUS_PORT ?? 19090);
const tag = 'composetest';
const EXPORT = '/opt/shipdeck/export';
const started = Date.now();
const report: [string, string][] = [];

function log(message: string): void {
  console.log(`[compose-test ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s] ${message}`);
}

/** A password that fits in a URL. */
const secret = () => randomBytes(18).toString('hex');

interface WorkerRow {
  id: string;
  name: string;
  address: string;
  state: string;
  configHash: string;
  capacity: number;
}

function summary(task: TaskView): string {
  return `${task.state} worker=${task.worker} ${task.steps.map((s) => `${s.path}:${s.state}`).join(' ')}${task.failure ? ` (${task.failure})` : ''}`;
}

async function getTask(api: Session, id: string): Promise<TaskView> {
  return api.expect<TaskView>(200, 'GET', `/api/v1/tasks/${id}`);
}

async function waitForTask(api: Session, id: string, what: string, ok: (t: TaskView) => boolean, timeoutMs = 60_000): Promise<TaskView> {
  let last: TaskView | undefined;
  return waitFor(`task ${id}: ${what}`, timeoutMs, async () => {
    last = await getTask(api, id);
    return ok(last) ? last : undefined;
  }, () => `last seen: ${last ? summary(last) : 'nothing'}`);
}

async function listWorkers(api: Session): Promise<WorkerRow[]> {
  return (await api.expect<{ items: WorkerRow[]; nextCursor: string | null }>(200, 'GET', '/api/v1/workers?limit=1000')).items;
}

// ---- the stack

class Stack {
  constructor(readonly compose: Compose) {}

  /** Waits until every container of `services` runs and its health check passes. */
  async healthy(services: string[], timeoutMs: number): Promise<void> {
    let states = '';
    await waitFor(`healthy ${services.join(', ')}`, timeoutMs, async () => {
      const all = await Promise.all(
        services.map(async (s) => Promise.all((await this.compose.ids(s)).map(async (id) => ({ s, c: await inspect(id) })))),
      );
      const flat = all.flat();
      states = flat.map(({ s, c }) => `${s}:${c.running ? c.health : `exited ${c.exitCode}`}`).join(' ');
      for (const { s, c } of flat) {
        if (!c.running && c.exitCode !== 0) throw new Error(`${s} (${c.name}) exited with ${c.exitCode}`);
      }
      return flat.length >= services.length && flat.every(({ c }) => c.running && c.health === 'healthy') ? true : undefined;
    }, () => `states: ${states}`);
  }

  /** The worker container whose address (container IP) is the one masters list for `worker`. */
  async workerContainer(worker: WorkerRow): Promise<string> {
    const ip = worker.address.split(':')[0];
    for (const id of await this.compose.ids('worker')) {
      if ((await inspect(id)).ip === ip) return id;
    }
    throw new Error(`no worker container has address ${worker.address}`);
  }

  /** Runs a shell command in a running worker container (they share the export volume). */
  async inWorker(command: string): Promise<string> {
    for (const id of await this.compose.ids('worker')) {
      if ((await inspect(id)).running) return (await sh('docker', ['exec', id, 'sh', '-c', command])).stdout;
    }
    throw new Error('no worker container runs');
  }

  release(gate: string): Promise<string> {
    return this.inWorker(`touch ${EXPORT}/${gate}.release`);
  }

  /** The lines a held step wrote to its ledger: one `started` per run, one `done` per completion. */
  async ledger(run: string): Promise<string[]> {
    const text = await this.inWorker(`cat ${EXPORT}/${run}.ledger 2>/dev/null || true`);
    return text.split('\n').filter((l) => l !== '');
  }
}

/** A package of one step that holds until `<export>/GATE.release` exists, with a ledger per RUN. */
const HELD_PACKAGE = `application: held
version: "1.0.0"
deployables:
  - name: gate
    type: cmd.Command
    create: 'echo started >> "${EXPORT}/{{RUN}}.ledger"; while [ ! -e "${EXPORT}/{{GATE}}.release" ]; do sleep 0.5; done; echo done >> "${EXPORT}/{{RUN}}.ledger"'
    timeout: 10m
`;

async function heldDeployment(api: Session, environment: string, gate: string, run: string): Promise<string> {
  await api.expect(201, 'PUT', `/api/v1/environments/${environment}`, { hosts: ['local-1'], dictionary: { GATE: gate, RUN: run } });
  const { taskId } = await api.expect<{ taskId: string }>(201, 'POST', '/api/v1/deployments', {
    application: 'held',
    version: '1.0.0',
    environment,
  });
  await api.expect(200, 'POST', `/api/v1/tasks/${taskId}/start`);
  return taskId;
}

const executingOnAWorker = (t: TaskView) => t.state === 'EXECUTING' && t.worker !== null && t.steps.some((s) => s.state === 'EXECUTING');

// ---- the scenario

async function scenario(stack: Stack): Promise<void> {
  const { compose } = stack;

  log('building the image (docker/Dockerfile on the stand-in base images)');
  let t = Date.now();
  await compose.stream(['build', 'master1']);
  report.push(['image build', `${((Date.now() - t) / 1000).toFixed(1)} s`]);
  const size = Number((await sh('docker', ['image', 'inspect', '-f', '{{.Size}}', `shipdeck:${tag}`])).stdout.trim());
  report.push(['image size', `${(size / 1e6).toFixed(0)} MB (aim: under 250 MB)`]);
  log(`image shipdeck:${tag}: ${(size / 1e6).toFixed(0)} MB`);

  log('starting the stack: postgres, artemis, master1, master2, haproxy, 1 worker, prometheus');
  t = Date.now();
  await compose.run(['up', '-d', '--scale', 'worker=1'], 600_000);
  await stack.healthy(['postgres', 'artemis', 'master1', 'master2', 'worker'], 240_000);
  const api = new Session(base);
  await waitFor('HAProxy to answer /health/ready', 60_000, async () => ((await api.call('GET', '/health/ready')).status === 200 ? true : undefined));
  report.push(['stack up (up -d to every health check)', `${((Date.now() - t) / 1000).toFixed(1)} s`]);
  log('every container is healthy; HAProxy answers');

  // The workers' broker user has its own role only (consume, no send), and they still connected.
  const roles = (await sh('docker', ['exec', await compose.id('artemis'), 'cat', '/var/lib/artemis-instance/etc/artemis-roles.properties'])).stdout;
  const workerRoles = roles.split('\n').filter((l) => /=\s*(.*,)?shipdeck-worker(,|\s*$)/.test(l)).map((l) => l.split('=')[0].trim());
  check(workerRoles.join(',') === 'shipdeck-worker', `the broker user shipdeck-worker has only the role shipdeck-worker (roles file:\n${roles})`);
  log('workers are connected with the broker user shipdeck-worker, which may consume but not send');

  // Every API route needs credentials; a login through HAProxy opens a session.
  const refused = await api.call('GET', '/api/v1/server/info');
  check(refused.status === 401, `without credentials the API answers 401 (got ${refused.status} ${refused.text})`);
  await api.login('admin', secrets.SHIPDECK_ADMIN_PASSWORD);
  log('logged in through HAProxy as admin (session cookie; without credentials: 401)');

  // Sticky sessions: HAProxy pins this session to one master with its cookie.
  const info = await api.expect<{ configHash: string }>(200, 'GET', '/api/v1/server/info');
  const pinned = api.cookie('SHIPDECK_MASTER');
  check(pinned === 'master1' || pinned === 'master2', `HAProxy set its sticky cookie (got ${pinned})`);
  log(`session pinned to ${pinned} by HAProxy's cookie`);
  // Same configuration hash in every container: one image, one mounted conf/.
  const masterIps = await Promise.all(['master1', 'master2'].map(async (s) => (await inspect(await compose.id(s))).ip));
  for (const ip of masterIps) {
    const other = await api.at(`http://${ip}:4516`).expect<{ configHash: string }>(200, 'GET', '/api/v1/server/info');
    check(other.configHash === info.configHash, `master ${ip} has configuration hash ${other.configHash}, not ${info.configHash}`);
  }

  // 2. The example package, through HAProxy.
  log('deploying examples/petclinic 1.0.0 through HAProxy');
  await api.expect(201, 'PUT', '/api/v1/hosts/local-1', { type: 'local', properties: { allowedRoots: ['/tmp/petclinic'] } });
  await api.expect(201, 'PUT', '/api/v1/environments/dev', {
    hosts: ['local-1'],
    dictionary: { APP_HOME: '/tmp/petclinic', DB_URL: 'jdbc:postgresql://db/petclinic' },
  });
  await api.expect(201, 'POST', '/api/v1/packages', readFileSync(join(root, 'examples/petclinic/1.0.0.yaml'), 'utf8'), 'application/yaml');
  const petclinic = await api.expect<{ taskId: string }>(201, 'POST', '/api/v1/deployments', {
    application: 'petclinic',
    version: '1.0.0',
    environment: 'dev',
  });
  await api.expect(200, 'POST', `/api/v1/tasks/${petclinic.taskId}/start`);
  const deployed = await waitForTask(api, petclinic.taskId, 'EXECUTED', (x) => x.state === 'EXECUTED' || x.state === 'FAILED');
  check(deployed.state === 'EXECUTED' && deployed.steps.every((s) => s.state === 'DONE'), `petclinic deployed: ${summary(deployed)}`);
  const appConf = (await sh('docker', ['exec', await compose.id('worker'), 'cat', '/tmp/petclinic/app.conf'])).stdout;
  check(appConf.includes('db.url=jdbc:postgresql://db/petclinic'), `app.conf in the worker container: ${appConf}`);
  await api.expect(200, 'POST', `/api/v1/tasks/${petclinic.taskId}/archive`);
  log(`petclinic deployed (${deployed.steps.length} steps DONE), app.conf written in the worker container, task archived`);

  // 3. Scale out, and show the tasks spread.
  log('scaling workers 1 → 3');
  await compose.run(['up', '-d', '--no-recreate', '--scale', 'worker=3'], 300_000);
  await stack.healthy(['worker'], 120_000);
  for (const ip of masterIps) {
    const master = api.at(`http://${ip}:4516`);
    await waitFor(`3 CONNECTED workers on master ${ip}`, 60_000, async () => {
      const rows = await listWorkers(master);
      return rows.filter((w) => w.state === 'CONNECTED').length === 3 ? rows : undefined;
    });
  }
  const workers = await listWorkers(api);
  check(new Set(workers.map((w) => w.configHash)).size === 1 && workers[0].configHash === info.configHash, 'workers share the masters configuration hash');
  const capacity = workers[0].capacity;
  log(`3 workers CONNECTED to both masters (${workers.map((w) => w.name).join(', ')}), capacity ${capacity} each`);

  await api.expect(201, 'POST', '/api/v1/packages', HELD_PACKAGE, 'application/yaml');
  const spreadCount = 3 * capacity;
  log(`deploying ${spreadCount} held tasks (3 × capacity): each worker must hold ${capacity}`);
  const spread: string[] = [];
  for (let i = 1; i <= spreadCount; i++) spread.push(await heldDeployment(api, `spread-${i}`, 'spread', 'spread'));
  const running = await waitFor(`${spreadCount} tasks EXECUTING`, 120_000, async () => {
    const tasks = await Promise.all(spread.map((id) => getTask(api, id)));
    return tasks.every(executingOnAWorker) ? tasks : undefined;
  });
  const perWorker = new Map<string, number>();
  for (const task of running) perWorker.set(task.worker as string, (perWorker.get(task.worker as string) ?? 0) + 1);
  const byName = [...perWorker].map(([id, n]) => `${workers.find((w) => w.id === id)?.name ?? id}: ${n}`).join(', ');
  check(perWorker.size === 3 && [...perWorker.values()].every((n) => n === capacity), `tasks spread over the 3 workers: ${byName}`);
  report.push(['spread of 30 held tasks', byName]);
  log(`spread: ${byName}`);
  await stack.release('spread');
  await waitFor(`the ${spreadCount} tasks EXECUTED`, 120_000, async () => {
    const tasks = await Promise.all(spread.map((id) => getTask(api, id)));
    return tasks.every((x) => x.state === 'EXECUTED') ? true : undefined;
  });
  const spreadLedger = await stack.ledger('spread');
  check(spreadLedger.filter((l) => l === 'started').length === spreadCount, `each spread step ran once (${spreadLedger.length} ledger lines)`);
  log(`all ${spreadCount} EXECUTED, each step run once`);

  // 3b. The monitoring profile: Prometheus finds every master and worker through the compose DNS,
  // scrapes them, and answers what the scenario did so far.
  t = Date.now();
  const prometheus = new Prometheus(`http://127.0.0.1:${prometheusPort}`);
  await prometheus.ready(60_000);
  const workerIps = await Promise.all((await compose.ids('worker')).map(async (id) => (await inspect(id)).ip));
  await prometheus.expectTargets({ 'shipdeck-master': masterIps.map((ip) => `${ip}:4516`), 'shipdeck-worker': workerIps.map((ip) => `${ip}:4517`) }, 60_000);
  const perMaster = (n: number) => new Map(masterIps.map((ip) => [`${ip}:4516`, n]));
  await prometheus.expectValues('sum by (instance) (shipdeck_tasks{state="EXECUTED"})', 'instance', perMaster(spreadCount), 30_000);
  await prometheus.expectValues('sum by (instance) (shipdeck_workers{state="CONNECTED"})', 'instance', perMaster(3), 30_000);
  await prometheus.expectValues('shipdeck_worker_capacity', 'instance', new Map(workerIps.map((ip) => [`${ip}:4517`, capacity])), 30_000);
  // Every task the scenario ran was claimed once, and every step it ran ended DONE on a worker.
  await prometheus.expectValues('sum by (job) (shipdeck_task_queued_to_claimed_seconds_count{job="shipdeck-worker"})', 'job', new Map([['shipdeck-worker', spreadCount + 1]]), 30_000);
  await prometheus.expectValues(
    'sum by (outcome) (shipdeck_step_duration_seconds_count)',
    'outcome',
    new Map([['DONE', spreadCount + deployed.steps.length]]),
    30_000,
  );
  const polled = await prometheus.values('sum by (job) (shipdeck_http_request_duration_seconds_count{method="GET",route="/api/v1/tasks/:id",status="200"})', 'job');
  check((polled.get('shipdeck-master') ?? 0) > 0, `Prometheus has the masters' GET /api/v1/tasks/:id requests (got ${[...polled].join(' ')})`);
  report.push(['Prometheus: every target up, the series read back', `${((Date.now() - t) / 1000).toFixed(1)} s`]);
  log(`Prometheus scrapes 2 masters and 3 workers; tasks, workers, capacity, claims (${spreadCount + 1}) and steps read back through its API`);

  // 4. A worker container killed mid-step.
  log('killing a worker container mid-step');
  const crash = await heldDeployment(api, 'crash', 'crash', 'crash');
  const crashing = await waitForTask(api, crash, 'EXECUTING on a worker', executingOnAWorker);
  const victim = workers.find((w) => w.id === crashing.worker) as WorkerRow;
  const victimContainer = await stack.workerContainer(victim);
  await waitFor('the crash step to start', 30_000, async () => ((await stack.ledger('crash')).length === 1 ? true : undefined));
  await sh('docker', ['kill', '-s', 'KILL', victimContainer]);
  log(`SIGKILLed ${victim.name} (container ${victimContainer.slice(0, 12)}) while it ran ${crash}`);
  await waitFor(`${victim.name} DISCONNECTED`, 60_000, async () =>
    (await listWorkers(api)).find((w) => w.id === victim.id)?.state === 'DISCONNECTED' ? true : undefined,
  );
  const whileGone = await waitForTask(api, crash, 'UNKNOWN while its worker is gone', (x) => x.state === 'UNKNOWN', 30_000);
  log(`masters list ${victim.name} DISCONNECTED and the task ${whileGone.state} (spec §4)`);
  await sh('docker', ['start', victimContainer]);
  const recovered = await waitForTask(api, crash, 'FAILED after the restarted worker recovered it', (x) => x.state === 'FAILED', 120_000);
  check(recovered.worker === victim.id && recovered.steps.every((s) => s.state === 'FAILED'), `recovered as the spec says: ${summary(recovered)}`);
  check((await stack.ledger('crash')).join(',') === 'started', 'the killed step did not complete');
  log(`the restarted container is ${victim.name} again; the step that was running is FAILED and the task FAILED, waiting (spec §5)`);
  await stack.release('crash');
  await api.expect(200, 'POST', `/api/v1/tasks/${crash}/start`);
  const resumed = await waitForTask(api, crash, 'EXECUTED after a start', (x) => x.state === 'EXECUTED', 60_000);
  check(resumed.steps.every((s) => s.state === 'DONE'), `resumed: ${summary(resumed)}`);
  check((await stack.ledger('crash')).join(',') === 'started,started,done', 'the failed step ran again once and completed');
  log('started again, it continued from the failed step and completed');

  // 5. Drain a worker that runs a task.
  const draining = await heldDeployment(api, 'drain', 'drain', 'drain');
  const toDrain = await waitForTask(api, draining, 'EXECUTING on a worker', executingOnAWorker);
  const drained = (await listWorkers(api)).find((w) => w.id === toDrain.worker) as WorkerRow;
  const drainedContainer = await stack.workerContainer(drained);
  log(`draining ${drained.name}, which runs ${draining}`);
  await api.expect(200, 'POST', `/api/v1/workers/${drained.id}/drain`);
  await waitFor(`${drained.name} DRAINING`, 30_000, async () =>
    (await listWorkers(api)).find((w) => w.id === drained.id)?.state === 'DRAINING' ? true : undefined,
  );
  await stack.release('next');
  const next = await heldDeployment(api, 'next', 'next', 'next');
  const nextDone = await waitForTask(api, next, 'EXECUTED', (x) => x.state === 'EXECUTED');
  check(nextDone.worker !== drained.id, `a draining worker takes no new task (next ran on ${nextDone.worker})`);
  await stack.release('drain');
  const drainDone = await waitForTask(api, draining, 'EXECUTED', (x) => x.state === 'EXECUTED');
  check(drainDone.worker === drained.id, `the draining worker finished its own task: ${summary(drainDone)}`);
  const exited = await waitFor(`${drained.name}'s container to exit`, 60_000, async () => {
    const c = await inspect(drainedContainer);
    return c.running ? undefined : c;
  });
  check(exited.exitCode === 0, `the drained worker's container exited 0 (got ${exited.exitCode})`);
  log(`${drained.name} finished its task, took no new one, and its container exited 0`);

  // 6. A master restarted while a task runs.
  const survivor = await heldDeployment(api, 'master-restart', 'master-restart', 'master-restart');
  const running6 = await waitForTask(api, survivor, 'EXECUTING on a worker', executingOnAWorker);
  await waitFor('the step to start', 30_000, async () => ((await stack.ledger('master-restart')).length === 1 ? true : undefined));
  const master1 = await compose.id('master1');
  const runner = (await listWorkers(api)).find((w) => w.id === running6.worker)?.name ?? running6.worker;
  await sh('docker', ['kill', '-s', 'KILL', master1]);
  log(`SIGKILLed master1 while ${survivor} runs on ${runner}`);
  const duringOutage = await getTask(api, survivor);
  check(duringOutage.state === 'EXECUTING', `through HAProxy, master2 shows the task EXECUTING: ${summary(duringOutage)}`);
  t = Date.now();
  await sh('docker', ['start', master1]);
  const ip1 = (await inspect(master1)).ip;
  const direct = api.at(`http://${ip1}:4516`);
  await waitFor('master1 ready again', 60_000, async () => ((await direct.call('GET', '/health/ready')).status === 200 ? true : undefined));
  const masterStartMs = Date.now() - t;
  report.push(['master start-up (docker start to /health/ready 200)', `${(masterStartMs / 1000).toFixed(1)} s (aim: under 10 s)`]);
  log(`master1 ready ${(masterStartMs / 1000).toFixed(1)} s after docker start`);
  await waitFor(`master1 to list ${runner} CONNECTED again`, 60_000, async () =>
    (await listWorkers(direct)).find((w) => w.id === running6.worker)?.state === 'CONNECTED' ? true : undefined,
  );
  const onRestarted = await getTask(direct, survivor);
  check(onRestarted.state === 'EXECUTING' && onRestarted.worker === running6.worker, `master1 shows the task still running: ${summary(onRestarted)}`);
  await stack.release('master-restart');
  const finished = await waitForTask(direct, survivor, 'EXECUTED', (x) => x.state === 'EXECUTED');
  check(finished.steps.every((s) => s.state === 'DONE'), `nothing lost: ${summary(finished)}`);
  check((await stack.ledger('master-restart')).join(',') === 'started,done', 'the step ran exactly once across the master restart');
  log('master1 is back, knows the worker again, and the task completed with its step run exactly once');

  // The drained worker's container is down, so the compose DNS no longer names it and Prometheus
  // drops its target; the restarted master and worker are scraped again.
  const containers = await Promise.all([...(await compose.ids('worker')), master1, await compose.id('master2')].map(inspect));
  const scraped = (c: (typeof containers)[number], port: number) => (c.running ? [`${c.ip}:${port}`] : []);
  await prometheus.expectTargets(
    {
      'shipdeck-master': containers.slice(-2).flatMap((c) => scraped(c, 4516)),
      'shipdeck-worker': containers.slice(0, -2).flatMap((c) => scraped(c, 4517)),
    },
    30_000,
  );
  log('Prometheus scrapes the restarted master and worker and no longer the drained worker');
}

/** The test's secrets: fresh random ones every run. */
const secrets = {
  POSTGRES_PASSWORD: secret(),
  ARTEMIS_ADMIN_PASSWORD: secret(),
  ARTEMIS_MASTER_PASSWORD: secret(),
  ARTEMIS_WORKER_PASSWORD: secret(),
  SHIPDECK_CLUSTER_SECRET: secret(),
  SHIPDECK_SECRETS_KEY: randomBytes(32).toString('base64'),
  SHIPDECK_ADMIN_PASSWORD: secret(),
};

/**
 * The test's docker/.env: its own project, ports and image tag, {@link secrets}, and the shipped
 * Prometheus configuration with 1 s intervals (readable by the container's `nobody`).
 */
function writeEnv(dir: string): string {
  const prometheusConfig = join(dir, 'prometheus.yml');
  writeFileSync(prometheusConfig, withIntervals(readFileSync(join(root, 'docker/prometheus/prometheus.yml'), 'utf8'), '1s'), { mode: 0o644 });
  const lines = [
    `COMPOSE_PROJECT_NAME=${project}`,
    `SHIPDECK_HTTP_PORT=127.0.0.1:${httpPort}`,
    `PROMETHEUS_PORT=127.0.0.1:${prometheusPort}`,
    `SHIPDECK_COMPOSE_PROMETHEUS_CONFIG=${prometheusConfig}`,
    `SHIPDECK_TAG=${tag}`,
    ...Object.entries(secrets).map(([k, v]) => `${k}=${v}`),
  ];
  const file = join(dir, 'compose-test.env');
  writeFileSync(file, `${lines.join('\n')}\n`, { mode: 0o600 });
  return file;
}

/** Nothing of the project may survive the tear-down. */
async function leftovers(): Promise<string[]> {
  const label = `label=com.docker.compose.project=${project}`;
  const found: string[] = [];
  for (const [kind, args] of [
    ['containers', ['ps', '-a', '-q', '--filter', label]],
    ['volumes', ['volume', 'ls', '-q', '--filter', label]],
    ['networks', ['network', 'ls', '-q', '--filter', label]],
  ] as const) {
    const ids = (await sh('docker', [...args])).stdout.split('\n').filter((l) => l.trim() !== '');
    if (ids.length > 0) found.push(`${ids.length} ${kind}`);
  }
  return found;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-compose-'));
  const file = writeEnv(dir);
  const compose = await Compose.detect(
    project,
    [join(root, 'docker/compose.yaml'), join(root, 'test/compose/compose.override.yaml')],
    file,
    ['monitoring'],
  );
  log(`compose: ${compose.name} (profile monitoring); project ${project}; HAProxy on ${base}, Prometheus on 127.0.0.1:${prometheusPort}`);
  // From scratch: whatever an interrupted earlier run left goes first.
  await compose.run(['down', '-v', '--remove-orphans', '-t', '5']);
  const stack = new Stack(compose);
  let failure: unknown;
  try {
    await scenario(stack);
  } catch (error) {
    failure = error;
    log('FAILED; the containers\' last log lines:');
    console.log((await compose.run(['logs', '--no-color', '--tail', '60']).catch((e: Error) => ({ stdout: e.message }))).stdout);
  } finally {
    log('tearing down (containers, volumes, networks)');
    const t = Date.now();
    await compose.run(['down', '-v', '--remove-orphans', '-t', '20']);
    report.push(['tear-down', `${((Date.now() - t) / 1000).toFixed(1)} s`]);
    rmSync(dir, { recursive: true, force: true });
  }
  const left = await leftovers();
  if (left.length > 0 && failure === undefined) failure = new Error(`the tear-down left ${left.join(', ')}`);
  report.push(['total', `${((Date.now() - started) / 1000).toFixed(1)} s`]);
  console.log('\ncompose test report');
  for (const [what, value] of report) console.log(`  ${what.padEnd(52)} ${value}`);
  if (failure !== undefined) throw failure;
  console.log('\ncompose test: PASSED');
}

main().catch((error: Error) => {
  console.error(`\ncompose test: FAILED: ${error.stack ?? error.message}`);
  process.exitCode = 1;
});
