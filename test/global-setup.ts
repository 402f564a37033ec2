/**
 * Jest global set-up of the integration tests: finds PostgreSQL and RabbitMQ (AMQP 1.0).
 *
 * 1. URLs given by SHIPDECK_TEST_DATABASE_URL / SHIPDECK_TEST_AMQP_URL are used as they are.
 * 2. Otherwise the standard local services (127.0.0.1:5432, 127.0.0.1:5672) are used when they answer.
 * 3. Otherwise, when a Docker engine answers, they are started with testcontainers and their URLs
 *    exported for the tests (and stopped by the global tear-down).
 * 4. Otherwise nothing is set: every test that needs a service fails with a message saying what to
 *    start or set (test/support/services.ts `requireServices`); tests that need none still run.
 */
import { execFileSync } from 'node:child_process';
import { connect } from 'node:net';

const DEFAULT_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test';
const DEFAULT_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';

interface Stoppable {
  stop(): Promise<unknown>;
}
declare global {
  // eslint-disable-next-line no-var
  var __shipdeckTestContainers: Stoppable[] | undefined;
}

function answers(url: string): Promise<boolean> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.setTimeout(2000, () => {
      socket.destroy();
      resolve(false);
    });
    socket.on('error', () => resolve(false));
  });
}

function dockerAnswers(): boolean {
  try {
    execFileSync('docker', ['info'], { stdio: 'ignore', timeout: 10_000 });
    return true;
  } catch {
    return false;
  }
}

export default async function globalSetup(): Promise<void> {
  const missing: ('database' | 'broker')[] = [];
  if (!process.env.SHIPDECK_TEST_DATABASE_URL && !(await answers(DEFAULT_DATABASE_URL))) missing.push('database');
  if (!process.env.SHIPDECK_TEST_AMQP_URL && !(await answers(DEFAULT_AMQP_URL))) missing.push('broker');
  if (missing.length === 0) return;
  if (!dockerAnswers()) {
    process.stderr.write(
      `\nintegration services: no ${missing.join(' and no ')} on the standard local ports and no Docker engine; ` +
        'tests that need them will fail saying what to start or set.\n',
    );
    return;
  }
  const { GenericContainer, Wait } = await import('testcontainers');
  const started: Stoppable[] = [];
  globalThis.__shipdeckTestContainers = started;
  if (missing.includes('database')) {
    process.stderr.write('integration services: starting PostgreSQL 15 with testcontainers…\n');
    const pg = await new GenericContainer('postgres:15')
      .withEnvironment({ POSTGRES_HOST_AUTH_METHOD: 'trust', POSTGRES_DB: 'test' })
      .withExposedPorts(5432)
      .withWaitStrategy(Wait.forLogMessage(/database system is ready to accept connections/, 2))
      .start();
    started.push(pg);
    process.env.SHIPDECK_TEST_DATABASE_URL = `postgres://postgres@${pg.getHost()}:${pg.getMappedPort(5432)}/test`;
  }
  if (missing.includes('broker')) {
    process.stderr.write('integration services: starting RabbitMQ 3.13 (AMQP 1.0 plugin) with testcontainers…\n');
    const mq = await new GenericContainer('rabbitmq:3.13')
      .withCopyContentToContainer([{ content: '[rabbitmq_amqp1_0].\n', target: '/etc/rabbitmq/enabled_plugins' }])
      .withExposedPorts(5672)
      .withWaitStrategy(Wait.forLogMessage(/Server startup complete/))
      .withStartupTimeout(120_000)
      .start();
    started.push(mq);
    process.env.SHIPDECK_TEST_AMQP_URL = `amqp://guest:guest@${mq.getHost()}:${mq.getMappedPort(5672)}`;
  }
}
