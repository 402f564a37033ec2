import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@shipdeck/config';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import { StartFailure, brokerFailure, databaseFailure, ensurePortFree, portBusy } from './start-failure';

let home: string;
beforeEach(() => {
  home = mkdtempSync(join(tmpdir(), 'shipdeck-start-'));
});
afterEach(() => rmSync(home, { recursive: true, force: true }));

const cluster = () =>
  loadConfig({
    home,
    env: {
      SHIPDECK_TASK_IN_PROCESS_WORKER: 'false',
      SHIPDECK_DB_URL: 'postgres://shipdeck:secret@db.example:5432/shipdeck',
      SHIPDECK_TASK_QUEUE_URL: 'amqp://guest:hidden@broker.example:5672',
      // A cluster needs a secret (or channel TLS); its value plays no part here.
      SHIPDECK_CLUSTER_SECRET: 'start-failure-spec-cluster-secret-0123456789',
    },
  });

describe('start-up failures', () => {
  it('a busy port names the key and its variable', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(0, resolve));
    const port = (blocker.address() as { port: number }).port;
    try {
      const error = await ensurePortFree(port, 'server.workerPort').then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(StartFailure);
      expect((error as StartFailure).message).toBe(
        `port ${port} (server.workerPort) is already in use by another process (another master?): stop it, or choose another port with server.workerPort in conf/shipdeck.yaml or SHIPDECK_SERVER_WORKER_PORT`,
      );
      expect((error as StartFailure).exitCode).toBe(69);
    } finally {
      await new Promise<void>((resolve) => blocker.close(() => resolve()));
    }
    await ensurePortFree(port, 'server.workerPort');
    // Anything but a busy port passes through as it is.
    const other = new Error('EACCES');
    expect(portBusy(other, 80, 'server.port')).toBe(other);
  });

  it('an unreachable database names where it is, without its password, and what to do', () => {
    const failure = databaseFailure(new NotReadyError('database not available (connecting to x): connect ECONNREFUSED'), cluster());
    expect((failure as StartFailure).message).toBe(
      'cannot reach the database postgres://shipdeck:***@db.example:5432/shipdeck (db.url): connect ECONNREFUSED; start PostgreSQL or fix db.url (SHIPDECK_DB_URL)',
    );
    const embedded = loadConfig({ home, env: {} });
    expect((databaseFailure(new Error('SQLITE_CANTOPEN'), embedded) as StartFailure).message).toBe(
      `cannot open the database ${join(home, 'data', 'shipdeck.db')} (db.url): SQLITE_CANTOPEN; check that its directory is writable and no other master uses the file`,
    );
    const config = new ConfigError('bad');
    expect(databaseFailure(config, embedded)).toBe(config);
  });

  it('an unreachable broker names it, without its password, and what to do', () => {
    expect((brokerFailure(new Error('connect ECONNREFUSED'), cluster(), 120_000) as StartFailure).message).toBe(
      'cannot reach the message broker at amqp://guest:***@broker.example:5672 (task.queue.url) after 120s: connect ECONNREFUSED; start the broker or fix task.queue.url (SHIPDECK_TASK_QUEUE_URL)',
    );
  });
});
