/**
 * Issue 4, how workers find and trust masters (spec §4): `-master NAME` resolved by DNS (an SRV
 * record served from loopback by a `dns2` server, changed while the worker runs), and mutual TLS
 * on the command channel with certificates made at test time by openssl.
 * Real processes, a PostgreSQL schema and a RabbitMQ queue of their own per suite.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { TestDns, Zone, startDns } from '../support/dns-server';
import { Pki, makePki, tlsEnv } from '../support/pki';
import { holdsFor, pollUntil } from '../support/poll';
import { runControl } from '../support/rest-actions';
import { api, expectStatus, waitForTask } from '../support/rest-client';
import { FAST_CHANNEL_ENV } from '../support/timings';
import { listWorkers, waitForWorker } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

const SRV = '_shipdeck._tcp.masters.test';

describe('6. DNS discovery: the worker follows the SRV record of the masters', () => {
  let dns: TestDns | undefined;

  afterAll(async () => {
    await dns?.close();
  }, 60_000);

  itWithCluster(
    'connects to the masters listed (A, then A and B) and leaves the one no longer listed (A)',
    { masters: 2, workers: 0, env: FAST_CHANNEL_ENV },
    async (l) => {
      const [masterA, masterB] = l.masters;
      const srvA = { target: 'master-a.masters.test', port: masterA.workerPort };
      const srvB = { target: 'master-b.masters.test', port: masterB.workerPort };
      const zone: Zone = { srv: { [SRV]: [srvA] }, a: { 'master-a.masters.test': '127.0.0.1', 'master-b.masters.test': '127.0.0.1' } };
      dns = await startDns(zone);
      const worker = await l.addWorker({ name: 'dns-worker', masters: [SRV], env: { SHIPDECK_WORKER_DNS_SERVERS: dns.address } });
      const id = worker.id as string;

      // SRV → A: A lists it CONNECTED; B has no channel to it, also after a few re-resolutions
      // (worker.connectInterval 1 s). B may still list it DISCONNECTED: masters share one worker
      // registry in the database, and A recorded the worker there when it registered.
      await waitForWorker(masterA.url, id, ['CONNECTED'], 15_000);
      let onB: string | undefined;
      await holdsFor(
        async () => {
          onB = (await listWorkers(masterB.url)).find((w) => w.id === id)?.state;
          return onB === undefined || onB === 'DISCONNECTED';
        },
        2_500,
        () => `master B lists the worker ${onB} although the SRV record names A only`,
        200,
      );
      expect(masterB.output()).not.toContain(`worker ${id}`);
      expect(dns.queries).toContain(`33 ${SRV}`);

      // SRV → A and B: it connects to B as well.
      zone.srv[SRV] = [srvA, srvB];
      await waitForWorker(masterB.url, id, ['CONNECTED'], 10_000);
      expect((await listWorkers(masterA.url)).find((w) => w.id === id)?.state).toBe('CONNECTED');

      // SRV → B: it leaves A, which shows it DISCONNECTED, and stays with B.
      zone.srv[SRV] = [srvB];
      await waitForWorker(masterA.url, id, ['DISCONNECTED'], 10_000);
      await holdsFor(
        async () => (await listWorkers(masterB.url)).find((w) => w.id === id)?.state === 'CONNECTED',
        1_500,
        () => 'master B stopped listing the worker CONNECTED',
        200,
      );
      expect((await listWorkers(masterA.url)).find((w) => w.id === id)?.state).toBe('DISCONNECTED');
      expect(worker.output()).toMatch(new RegExp(`new masters listed, connecting to .*${masterB.workerPort}`));
      expect(worker.output()).toMatch(/is no longer listed by _shipdeck\._tcp\.masters\.test: disconnecting from it/);
      expect(worker.status).toBeUndefined();
    },
    90_000,
  );
});

describe('7. mutual TLS on the command channel', () => {
  let pki: Pki;

  beforeAll(async () => {
    pki = await makePki(mkdtempSync(join(tmpdir(), 'shipdeck-lifecycle-pki-')));
  }, 60_000);

  afterAll(() => {
    if (pki) rmSync(pki.dir, { recursive: true, force: true });
  });

  itWithCluster(
    'a worker with a certificate of the CA is CONNECTED and executes a task; one with a foreign certificate is refused and never listed',
    () => ({ masters: 2, workers: 1, masterEnv: tlsEnv(pki.master), workerEnv: tlsEnv(pki.worker), env: FAST_CHANNEL_ENV }),
    async (l) => {
      const [masterA, masterB] = l.masters;
      for (const m of l.masters) expect(m.output()).toMatch(/command channel server: STARTING → LISTENING port=\d+ tls=true/);
      const good = l.workers[0];
      const goodId = good.id as string;
      await Promise.all(l.masters.map((m) => waitForWorker(m.url, goodId, ['CONNECTED'], 10_000)));

      const a = api(masterA.url);
      const ledger = join(l.sandbox, 'ledger.txt');
      expectStatus(await a.put('/hosts/ledger-7', { type: 'ledger', properties: { ledgerFile: ledger } }), 201);
      const taskId = await runControl(a, api(masterB.url), 'ledger-7');
      expect((await waitForTask(masterB.url, taskId, ['EXECUTED'])).worker).toBe(goodId);

      // A worker no master accepts never starts consuming: it could be neither stopped nor aborted.
      const foreign = await l.addWorker({ name: 'foreign', env: tlsEnv(pki.foreignWorker), wait: 'spawned' });
      await pollUntil(() => foreign.id !== undefined, { timeoutMs: 20_000, describe: () => `the foreign worker wrote no id:\n${foreign.output()}` });
      const foreignId = foreign.id as string;
      await foreign.waitForOutput(new RegExp(`TLS handshake with master localhost:${masterA.workerPort} failed: TLS handshake refused`), 10_000);
      await foreign.waitForOutput(new RegExp(`TLS handshake with master localhost:${masterB.workerPort} failed: TLS handshake refused`), 10_000);
      // It keeps trying (and being refused) for longer than the grace period: never listed.
      await holdsFor(
        async () => {
          const [onA, onB] = [await listWorkers(masterA.url), await listWorkers(masterB.url)];
          return [...onA, ...onB].every((w) => w.id !== foreignId);
        },
        2_500,
        () => 'a master lists the worker with the foreign certificate',
        200,
      );
      for (const m of l.masters) expect(m.output()).toMatch(/TLS handshake with .* refused: its certificate does not verify against the CA/);
      expect(foreign.output()).not.toMatch(/consumer active|Shipdeck worker \S+ started/);
      expect((await listWorkers(masterA.url)).map((w) => [w.id, w.state])).toEqual([[goodId, 'CONNECTED']]);
      expect((await listWorkers(masterB.url)).map((w) => [w.id, w.state])).toEqual([[goodId, 'CONNECTED']]);
    },
    120_000,
  );
});
