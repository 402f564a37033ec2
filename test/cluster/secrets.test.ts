/**
 * Issue 9, secrets in a cluster: external workers open the secrets a master sealed when they have
 * the masters' key (SHIPDECK_SECRETS_KEY on every process), and a worker with another key fails
 * the step that needs one, saying which keys differ, and goes on working. Neither the master's nor
 * the workers' output ever holds the value. Real processes, PostgreSQL and RabbitMQ.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireClusterPrerequisites } from '../support/cluster';
import { itWithCluster } from '../support/cluster-tests';
import { createDeployment, importPackage, startTask } from '../support/rest-actions';
import { api, expectStatus, waitForTask } from '../support/rest-client';
import { waitForWorker } from '../support/workers-api';

beforeAll(requireClusterPrerequisites, 120_000);

const SECRET = `cluster-s3cret-${randomUUID()}`;
const keyOf = () => randomBytes(32).toString('base64');
const keyIdOf = (base64: string) => createHash('sha256').update(new Uint8Array(Buffer.from(base64, 'base64'))).digest('hex').slice(0, 8);
const MASTERS_KEY = keyOf();

itWithCluster(
  "workers with the masters' key run steps with secrets; a worker with another key fails them, saying so",
  { masters: 1, workers: 0, env: { SHIPDECK_SECRETS_KEY: MASTERS_KEY } },
  async (l) => {
    const [master] = l.masters;
    const client = api(master.url);
    const out = l.scratchDir('out');
    expectStatus(await client.put('/hosts/local-1', { type: 'local', properties: { allowedRoots: [out] } }), 201);
    expectStatus(await client.put('/environments/dev', { hosts: ['local-1'], dictionary: { OUT: out }, secrets: { PW: SECRET } }), 201);
    const create = `printf '%s' {{PW}} | sha256sum > {{OUT}}/digest; echo "got {{PW}}"`;
    for (const application of ['vault', 'locked']) {
      await importPackage(client, { application, version: '1.0.0', deployables: [{ name: 'app', type: 'cmd.Command', create }] });
    }

    const good = await l.addWorker({ name: 'worker-same-key' });
    const first = await createDeployment(client, 'vault', '1.0.0', 'dev');
    await startTask(client, first);
    const done = await waitForTask(client, first, ['EXECUTED'], 30_000);
    expect(done.steps[0].state).toBe('DONE');
    expect(readFileSync(join(out, 'digest'), 'utf8').split(' ')[0]).toBe(createHash('sha256').update(SECRET).digest('hex'));
    const log = expectStatus(await client.get<string>(`/tasks/${first}/steps/1-1-1/log`), 200);
    expect(log).toContain('got ******\n');
    expect(log).not.toContain(SECRET);
    await good.kill('SIGTERM');

    const otherKey = keyOf();
    const other = await l.addWorker({ name: 'worker-other-key', env: { SHIPDECK_SECRETS_KEY: otherKey } });
    const second = await createDeployment(client, 'locked', '1.0.0', 'dev');
    await startTask(client, second);
    const failed = await waitForTask(client, second, ['FAILED'], 30_000);
    expect(failed.steps[0].failure).toBe(
      `cannot open the step's secrets: a secret was sealed with secrets key ${keyIdOf(MASTERS_KEY)}, but this process has ` +
        `secrets key ${keyIdOf(otherKey)}: give every master and worker the same key (secrets.key / SHIPDECK_SECRETS_KEY, or the same secrets.keyFile)`,
    );
    expect(other.status).toBeUndefined();
    await waitForWorker(master.url, other.id as string, ['CONNECTED']);

    for (const output of [master.output(), good.output(), other.output()]) {
      expect(output).not.toContain(SECRET);
      expect(output).not.toContain(MASTERS_KEY);
      expect(output).not.toContain(otherKey);
    }
  },
  120_000,
);
