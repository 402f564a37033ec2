/**
 * Infrastructure faults (spec §5, issue 5) with real processes: the broker drops every connection
 * (`rabbitmqctl close_all_connections`, on a RabbitMQ virtual host of this test's own, so that
 * nobody else's connections are hit) while tasks are published and while they run; PostgreSQL
 * becomes unreachable for a few seconds (a TCP proxy between every process and PostgreSQL cuts
 * every connection and refuses new ones) while steps run. Nothing may be lost, nothing executed
 * twice. Steps of the ledger test plugin append `<taskId> <stepPath> <pid>` to a ledger file.
 *
 * Needs PostgreSQL, RabbitMQ with its AMQP 1.0 plugin, and rabbitmqctl for that broker on this
 * machine (see test/support/cluster.ts).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import { Cluster, startCluster, withClusterOutput } from '../support/cluster';
import { ledgerCounts, readLedger } from '../support/ledger';
import { scrape, series, workerMetricsUrl } from '../support/metrics-scrape';
import { mapLimit } from '../support/map-limit';
import { pollUntil } from '../support/poll';
import { isProcessAlive, killTrackedProcesses, readPidFile, trackProcesses } from '../support/processes';
import { createControl, createDeployment, getTask, importPackage, putEnvironment, putLedgerHost, startTask } from '../support/rest-actions';
import { Api, expectStatus } from '../support/rest-client';
import { TEST_DATABASE_URL, Vhost, createVhost, requireServices } from '../support/services';
import { TcpProxy, startTcpProxy } from '../support/tcp-proxy';
import { listWorkers } from '../support/workers-api';
import { FAST_LEASE_ENV } from '../support/timings';

const FAST = {
  ...FAST_LEASE_ENV,
  SHIPDECK_TASK_MAX_ACTIVE_TASKS: '4',
};

let rc: Cluster | undefined;
let proxy: TcpProxy | undefined;
let vhost: Vhost | undefined;
let a: Api;
let b: Api;

const scenario = (name: string, body: () => Promise<void>, timeoutMs = 60_000) => it(name, withClusterOutput(() => rc, body), timeoutMs);

beforeAll(async () => {
  // Before the proxy and the virtual host: says what to start when a service is missing.
  await requireServices();
  const database = new URL(TEST_DATABASE_URL);
  proxy = await startTcpProxy({ targetHost: database.hostname, targetPort: Number(database.port || 5432) });
  database.host = `${proxy.host}:${proxy.port}`;
  vhost = await createVhost();
  // Every master and worker reaches PostgreSQL through the proxy and RabbitMQ on the test's own virtual host.
  rc = await startCluster({ masters: 2, workers: 2, env: FAST, databaseUrl: database.toString(), amqpUrl: vhost.url });
  [a, b] = rc.clients;
}, 90_000);

afterAll(async () => {
  killTrackedProcesses();
  const failures: string[] = [];
  await rc?.stop().catch((e: unknown) => failures.push(String(e)));
  await proxy?.close().catch((e: unknown) => failures.push(String(e)));
  await vhost?.drop().catch((e: unknown) => failures.push(String(e)));
  if (failures.length > 0) throw new Error(failures.join('; '));
}, 60_000);

/** How many times each master and worker process logged that its broker connection is reconnecting. */
function reconnects(r: Cluster): Map<string, number> {
  const outputs = [...r.masters.map((m) => [m.name, m.output()]), ...r.workers.map((w) => [w.name, w.output()])];
  return new Map(outputs.map(([name, text]) => [name, (text.match(/AMQP task queue \S+ -> reconnecting/g) ?? []).length]));
}

/** Closes every connection of the virtual host and waits until every process noticed (and reconnects). */
async function dropBrokerConnections(r: Cluster): Promise<void> {
  const before = reconnects(r);
  await (vhost as Vhost).dropConnections('test');
  let now = before;
  await pollUntil(
    () => {
      now = reconnects(r);
      return [...before].every(([name, n]) => (now.get(name) ?? 0) > n);
    },
    { timeoutMs: 15_000, describe: () => `not every process lost its broker connection: before ${JSON.stringify([...before])}, now ${JSON.stringify([...now])}` },
  );
}

/** The `/metrics` URL of each master and worker process, by process name. */
async function metricsUrls(r: Cluster): Promise<Map<string, string>> {
  const listed = await listWorkers(a);
  const urls = new Map(r.masters.map((m) => [m.name, `${m.url}/metrics`]));
  for (const w of r.workers) {
    const view = listed.find((l) => l.id === w.id);
    if (!view) throw new Error(`GET /workers does not list ${w.name} (${w.id})`);
    urls.set(w.name, workerMetricsUrl(view));
  }
  return urls;
}

/** A counter of each process's `/metrics`, by process name. */
async function counters(urls: Map<string, string>, name: string): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const [process, url] of urls) {
    const samples = await scrape(url);
    const component = process.startsWith('master') ? 'master' : 'worker';
    values.set(process, samples.get(series(name, { component })) ?? -1);
  }
  return values;
}

/** Polls GET /tasks until every task is in `state`; answers that are not 200 (database away) count as not yet. */
async function waitForAll(client: Api, ids: string[], state: TaskView['state'], timeoutMs: number): Promise<Map<string, TaskView>> {
  let seen = new Map<string, TaskView>();
  let last = '';
  await pollUntil(
    async () => {
      // One page holds them all: these scenarios create fewer tasks than the largest page.
      const response = await client
        .get<{ items: TaskView[] }>('/tasks?limit=1000')
        .catch((e: unknown) => ({ status: 0, body: { items: [] as TaskView[] }, text: String(e) }));
      if (response.status !== 200) {
        last = `HTTP ${response.status} ${response.text}`;
        return false;
      }
      seen = new Map(response.body.items.map((t) => [t.id, t]));
      const byState: Record<string, number> = {};
      for (const id of ids) byState[seen.get(id)?.state ?? '(missing)'] = (byState[seen.get(id)?.state ?? '(missing)'] ?? 0) + 1;
      last = JSON.stringify(byState);
      return ids.every((id) => seen.get(id)?.state === state);
    },
    { timeoutMs, intervalMs: 250, describe: () => `not every task reached ${state} within ${timeoutMs} ms: ${last}` },
  );
  // List items carry no steps (spec §6): answer each task's own view.
  return new Map(await Promise.all(ids.map(async (id) => [id, await getTask(client, id)] as const)));
}

scenario('6. the broker drops every connection twice, while 40 tasks are published and while they run: each executed exactly once', async () => {
  const r = rc as Cluster;
  const ledger = join(r.sandbox, 'ledger-6.txt');
  await putLedgerHost(a, 'ledger-6', ledger);
  const clients = [a, b];
  const ids: string[] = [];
  let firstDropSeen = false;
  const startedAt = Date.now();
  const publishOne = async (i: number) => {
    const id = await createControl(clients[i % 2], 'ledger-6', { sleepMs: 1_500 });
    await startTask(clients[(i + 1) % 2], id);
    ids.push(id);
  };
  // Publishing (created through one master, started through the other) spans the first drop: 10
  // at once, then one every 200 ms until every process has lost its connection, then the rest.
  const publishing = (async () => {
    await mapLimit(Array.from({ length: 10 }, (_, i) => i), 3, publishOne);
    let i = 10;
    for (; i < 40 && !firstDropSeen; i++) {
      await publishOne(i);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    await mapLimit(Array.from({ length: 40 - i }, (_, k) => i + k), 3, publishOne);
  })();
  await pollUntil(() => ids.length >= 10, { timeoutMs: 20_000, describe: () => `only ${ids.length} tasks started` });
  let startedAtFirstDrop = -1;
  const dropping = dropBrokerConnections(r).finally(() => {
    firstDropSeen = true;
    startedAtFirstDrop = ids.length;
  });
  await Promise.all([dropping, publishing]);
  // Publishing went on after every process had lost its connection.
  expect(startedAtFirstDrop).toBeLessThan(40);
  expect(ids).toHaveLength(40);

  // The second drop at once, while they run: some executing, some not yet.
  let views = new Map(expectStatus(await a.get<{ items: TaskView[] }>('/tasks?limit=1000'), 200).items.map((t) => [t.id, t]));
  expect(ids.filter((id) => views.get(id)?.state === 'EXECUTING').length).toBeGreaterThan(0);
  await dropBrokerConnections(r);
  views = new Map(expectStatus(await a.get<{ items: TaskView[] }>('/tasks?limit=1000'), 200).items.map((t) => [t.id, t]));
  const executedAtSecondDrop = ids.filter((id) => views.get(id)?.state === 'EXECUTED').length;
  // Checked once every process noticed the drop, i.e. after it happened.
  expect(executedAtSecondDrop).toBeLessThan(40);

  const final = await waitForAll(a, ids, 'EXECUTED', 60_000);
  const lines = readLedger(ledger);
  const expected = ids.map((id) => `${id} ${(final.get(id) as TaskView).steps[0].path}`).sort();
  expect(lines.map((l) => `${l.taskId} ${l.step}`).sort()).toEqual(expected);
  const workerPids = r.workers.map((w) => w.pid);
  expect(lines.filter((l) => !workerPids.includes(l.pid))).toEqual([]);
  const fromB = new Map(expectStatus(await b.get<{ items: TaskView[] }>('/tasks?limit=1000'), 200).items.map((t) => [t.id, t]));
  expect(ids.filter((id) => fromB.get(id)?.state !== 'EXECUTED')).toEqual([]);
  // Every drop each process logged is one broker reconnect in its /metrics (the first connection is none).
  const urls = await metricsUrls(r);
  let counted = new Map<string, number>();
  await pollUntil(
    async () => {
      counted = await counters(urls, 'shipdeck_broker_reconnects_total');
      return [...reconnects(r)].every(([name, n]) => counted.get(name) === n);
    },
    { timeoutMs: 10_000, describe: () => `broker reconnects in /metrics ${JSON.stringify([...counted])}, logged drops ${JSON.stringify([...reconnects(r)])}` },
  );
  for (const n of counted.values()) expect(n).toBeGreaterThanOrEqual(2);
  console.info(
    `scenario 6: 40 tasks, first drop after ${startedAtFirstDrop} were started, second drop with ${executedAtSecondDrop} executed; ` +
      `all EXECUTED ${Date.now() - startedAt} ms after the first was created; reconnects per process ${JSON.stringify([...reconnects(r)])}`,
  );
});

scenario('7. PostgreSQL unreachable for 4 s while steps run: running steps go on, writes are retried, every task EXECUTED with each step once', async () => {
  const r = rc as Cluster;
  const p = proxy as TcpProxy;
  const ledger = join(r.sandbox, 'ledger-7.txt');
  const commands = join(r.sandbox, 'commands-7.txt');
  const pidDir = r.sandbox;
  expectStatus(await a.put('/hosts/local-7', { type: 'local' }), 201);
  await importPackage(b, {
    application: 'outage-app',
    version: '1.0.0',
    deployables: [
      { name: 'first', type: 'test.Ledger', order: 10, ledgerFile: ledger, sleepMs: 800 },
      {
        name: 'command',
        type: 'cmd.Command',
        order: 20,
        // A real process: writes its pid, runs 3 s, then records that it finished.
        create: `echo $$ > {{PIDDIR}}/{{ENV}}.pid; sleep 3; echo "{{ENV}} $$" >> ${commands}`,
      },
      { name: 'last', type: 'test.Ledger', order: 30, ledgerFile: ledger, sleepMs: 800 },
    ],
  });
  const envs = ['env-7-1', 'env-7-2', 'env-7-3', 'env-7-4'];
  const ids: string[] = [];
  for (const env of envs) {
    await putEnvironment(a, env, ['local-7'], { ENV: env, PIDDIR: pidDir });
    const id = await createDeployment(b, 'outage-app', '1.0.0', env);
    await startTask(a, id);
    ids.push(id);
  }
  // Every command step runs.
  const pidFiles = envs.map((env) => join(pidDir, `${env}.pid`));
  await pollUntil(() => pidFiles.every((f) => readPidFile(f).length === 1), {
    timeoutMs: 20_000,
    describe: () => `not every command step started: ${pidFiles.filter((f) => !existsSync(f)).join(', ')}`,
  });
  const pids = pidFiles.map((f) => readPidFile(f)[0]);
  trackProcesses(pids);
  const finishedBy = () => new Set((existsSync(commands) ? readFileSync(commands, 'utf8') : '').split('\n').filter(Boolean).map((l) => Number(l.split(' ')[1])));

  // Cut for 4 s while they run; meanwhile every command process runs on until it finishes by itself.
  expect(pids.filter(isProcessAlive)).toEqual(pids);
  const acceptedBefore = p.accepted;
  const cutAt = Date.now();
  const cut = p.cut(4_000);
  const finishedBeforeCut = finishedBy();
  const vanished = new Set<number>();
  const finishedSeenAt = new Map<number, number>();
  while (p.down) {
    const finished = finishedBy();
    for (const pid of pids) {
      if (!isProcessAlive(pid) && !finished.has(pid)) vanished.add(pid);
      if (finished.has(pid) && !finishedBeforeCut.has(pid) && !finishedSeenAt.has(pid)) finishedSeenAt.set(pid, Date.now());
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await cut;
  const cutMs = Date.now() - cutAt;
  // Finished well inside the cut: their workers had to record the step DONE while the database was away.
  const finishedDuringCut = new Set([...finishedSeenAt].filter(([, at]) => at < Date.now() - 500).map(([pid]) => pid));
  expect({ vanished: [...vanished] }).toEqual({ vanished: [] });
  // The cut happened while steps ran: the masters answer 503 meanwhile is not checked; the workers' retries are.
  const final = await waitForAll(a, ids, 'EXECUTED', 45_000);

  // Each command ran once, in the process that started before the cut; each ledger step once.
  const commandLines = readFileSync(commands, 'utf8').split('\n').filter(Boolean).sort();
  expect(commandLines).toEqual(envs.map((env, i) => `${env} ${pids[i]}`).sort());
  const lines = readLedger(ledger);
  for (const id of ids) {
    const task = final.get(id) as TaskView;
    expect({ id, steps: task.steps.map((s) => s.state) }).toEqual({ id, steps: ['DONE', 'DONE', 'DONE'] });
    const ledgerSteps = [task.steps[0].path, task.steps[2].path];
    expect({ id, counts: ledgerCounts(lines, id) }).toEqual({ id, counts: Object.fromEntries(ledgerSteps.map((s) => [s, 1])) });
  }
  // A command that finished during the cut made its worker retry recording the step DONE.
  expect(finishedDuringCut.size).toBeGreaterThan(0);
  const retried = ids
    .filter((_, i) => finishedDuringCut.has(pids[i]))
    .map((id) => {
      const owner = r.workers.find((w) => w.id === final.get(id)?.worker);
      return { id, retried: new RegExp(`waiting for saving the plan of task ${id}`).test(owner?.output() ?? '') };
    });
  expect(retried.filter((t) => !t.retried)).toEqual([]);
  // The outage shows as one database reconnect in the /metrics of every master (their reconcilers
  // query every 500 ms) and of every worker that had to retry a write; no process counts more.
  const reconnected = await counters(await metricsUrls(r), 'shipdeck_database_reconnects_total');
  const retriedBy = new Set(retried.map(({ id }) => r.workers.find((w) => w.id === final.get(id)?.worker)?.name));
  for (const [name, n] of reconnected) {
    const noticed = name.startsWith('master') || retriedBy.has(name);
    expect({ name, reconnects: noticed ? n : Math.min(n, 1) }).toEqual({ name, reconnects: noticed ? 1 : n });
  }
  console.info(
    `scenario 7: cut ${cutMs} ms; proxy accepted ${p.accepted - acceptedBefore} connections since; ` +
      `${finishedDuringCut.size} of ${pids.length} commands finished during the cut (their workers retried writing the step DONE); ` +
      `workers ${JSON.stringify(Object.fromEntries(ids.map((id) => [id.slice(0, 8), final.get(id)?.worker?.slice(0, 15)])))}`,
  );
});
