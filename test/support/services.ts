/**
 * The services integration tests run against: PostgreSQL (a schema per test) and RabbitMQ with
 * its AMQP 1.0 plugin (a queue, or a virtual host, per test). Imports no test framework.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { connect as connectAmqp091 } from 'amqplib';
import { Client } from 'pg';
import { create_container } from 'rhea';
import { messageOf } from './output-log';


/** The PostgreSQL database clusters create their schema in (`SHIPDECK_TEST_DATABASE_URL`). */
export const TEST_DATABASE_URL = process.env.SHIPDECK_TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** The RabbitMQ (AMQP 1.0 plugin enabled) clusters create their queue on (`SHIPDECK_TEST_AMQP_URL`). */
export const TEST_AMQP_URL = process.env.SHIPDECK_TEST_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672';


const SERVICE_CHECK_TIMEOUT_MS = 5_000;

/** A URL without its password, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.href;
  } catch {
    return '(unparsable URL)';
  }
}

/**
 * Checks that PostgreSQL and the broker (AMQP 0-9-1 to declare queues, AMQP 1.0 for Shipdeck)
 * answer, and fails with one message saying what to start or set when they do not. Never skips.
 */
export async function requireServices(options: { databaseUrl?: string; amqpUrl?: string } = {}): Promise<void> {
  const databaseUrl = options.databaseUrl ?? TEST_DATABASE_URL;
  const amqpUrl = options.amqpUrl ?? TEST_AMQP_URL;
  const problems: string[] = [];

  const client = new Client({ connectionString: databaseUrl, connectionTimeoutMillis: SERVICE_CHECK_TIMEOUT_MS });
  try {
    await client.connect();
    await client.query('SELECT 1');
  } catch (error) {
    problems.push(
      `PostgreSQL is not reachable at ${redactUrl(databaseUrl)} (${messageOf(error)}). Start it (here: ` +
        '`pg_ctlcluster --skip-systemctl-redirect 15 main start`) or set SHIPDECK_TEST_DATABASE_URL to a database ' +
        'in which these tests may create and drop schemas.',
    );
  } finally {
    await client.end().catch(() => undefined);
  }

  const fix =
    'Start RabbitMQ (`rabbitmq-server -detached`) with its AMQP 1.0 plugin (`rabbitmq-plugins enable rabbitmq_amqp1_0`), ' +
    'or set SHIPDECK_TEST_AMQP_URL to a RabbitMQ 3.10+ that has it.';
  try {
    const connection = await connectAmqp091(amqpUrl, { timeout: SERVICE_CHECK_TIMEOUT_MS });
    await connection.close();
  } catch (error) {
    problems.push(`RabbitMQ does not accept AMQP 0-9-1 at ${redactUrl(amqpUrl)} (${messageOf(error)}). ${fix}`);
  }
  if (problems.length === 0) {
    const amqp10 = await probeAmqp10(amqpUrl);
    if (amqp10) problems.push(`RabbitMQ at ${redactUrl(amqpUrl)} does not speak AMQP 1.0 (${amqp10}). ${fix}`);
  }
  if (problems.length > 0) throw new Error(`integration test services are missing:\n- ${problems.join('\n- ')}`);
}

/** Opens and closes an AMQP 1.0 connection; answers why it failed, or undefined. */
function probeAmqp10(url: string): Promise<string | undefined> {
  const parsed = new URL(url);
  return new Promise((resolve) => {
    const container = create_container({ id: `shipdeck-probe-${randomUUID()}` });
    container.on('error', () => undefined);
    const connection = container.connect({
      host: parsed.hostname,
      port: Number(parsed.port || 5672),
      username: decodeURIComponent(parsed.username) || undefined,
      password: decodeURIComponent(parsed.password) || undefined,
      reconnect: false,
    });
    let done = false;
    const finish = (problem: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      connection.close();
      resolve(problem);
    };
    const timer = setTimeout(() => finish(`no AMQP 1.0 open frame within ${SERVICE_CHECK_TIMEOUT_MS} ms`), SERVICE_CHECK_TIMEOUT_MS);
    connection.on('connection_open', () => finish(undefined));
    connection.on('connection_error', (context) => finish(String(context.connection.error?.description ?? 'connection error')));
    connection.on('disconnected', (context) => finish(String(context.error ?? 'disconnected')));
  });
}

/** `base` with `?schema=NAME` (Shipdeck's PostgreSQL URLs select, and masters create, that schema). */
export function databaseUrlWithSchema(schema: string, base = TEST_DATABASE_URL): string {
  const url = new URL(base);
  url.searchParams.set('schema', schema);
  return url.toString();
}

/** Drops a schema and everything in it; a missing schema is fine. */
export async function dropSchema(schema: string, base = TEST_DATABASE_URL): Promise<void> {
  const client = new Client({ connectionString: base, connectionTimeoutMillis: SERVICE_CHECK_TIMEOUT_MS });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema.replace(/"/g, '""')}" CASCADE`);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Deletes a queue (a missing one is fine) over AMQP 0-9-1. */
export async function deleteQueue(queueName: string, url = TEST_AMQP_URL): Promise<void> {
  const connection = await connectAmqp091(url, { timeout: SERVICE_CHECK_TIMEOUT_MS });
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    await channel.deleteQueue(queueName);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** What the broker says of a queue over AMQP 0-9-1: messages ready (not delivered) and consumers. */
export async function queueStatus(queueName: string, url = TEST_AMQP_URL): Promise<{ ready: number; consumers: number }> {
  const connection = await connectAmqp091(url, { timeout: SERVICE_CHECK_TIMEOUT_MS });
  connection.on('error', () => undefined);
  try {
    const channel = await connection.createChannel();
    channel.on('error', () => undefined);
    const ok = await channel.checkQueue(queueName);
    return { ready: ok.messageCount, consumers: ok.consumerCount };
  } finally {
    await connection.close().catch(() => undefined);
  }
}

const execFileAsync = promisify(execFile);

/**
 * `rabbitmqctl ARGS…` for the broker on this machine (a second or more per call); fails saying
 * what it needs.
 */
export async function rabbitmqctl(...args: string[]): Promise<string> {
  try {
    return (await execFileAsync('rabbitmqctl', args, { timeout: 60_000 })).stdout;
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr;
    throw new Error(
      `\`rabbitmqctl ${args.join(' ')}\` failed (${stderr || messageOf(error)}); this test needs rabbitmqctl for the broker at ` +
        `${redactUrl(TEST_AMQP_URL)} on this machine, run by a user allowed to use it`,
    );
  }
}

/**
 * Ready and unacknowledged (delivered, not settled) messages of a queue, from `rabbitmqctl
 * list_queues` (AMQP 0-9-1 cannot tell unacknowledged messages). Slow: poll it sparingly.
 */
export async function queueCounts(queueName: string, url = TEST_AMQP_URL): Promise<{ ready: number; unacked: number }> {
  const vhost = decodeURIComponent(new URL(url).pathname.replace(/^\//, '')) || '/';
  const stdout = await rabbitmqctl('list_queues', '-q', '-p', vhost, '--no-table-headers', 'name', 'messages_ready', 'messages_unacknowledged');
  for (const line of stdout.split('\n')) {
    const [name, ready, unacked] = line.trim().split(/\s+/);
    if (name === queueName) return { ready: Number(ready), unacked: Number(unacked) };
  }
  throw new Error(`rabbitmqctl list_queues does not list queue ${queueName}:\n${stdout}`);
}

/** A RabbitMQ virtual host of the test's own, so that dropping connections hits nobody else. */
export interface Vhost {
  name: string;
  /** The base URL pointing at this virtual host. */
  url: string;
  /** `rabbitmqctl close_all_connections`: the broker drops every connection of the virtual host; answers how many. */
  dropConnections(reason: string): Promise<number>;
  /** Deletes the virtual host (its queues and connections go with it). */
  drop(): Promise<void>;
}

/** Creates a virtual host where the URL's user (default guest) may do everything. */
export async function createVhost(base = TEST_AMQP_URL): Promise<Vhost> {
  const name = `shipdeck-test-${randomUUID()}`;
  const user = decodeURIComponent(new URL(base).username) || 'guest';
  await rabbitmqctl('add_vhost', name);
  try {
    await rabbitmqctl('set_permissions', '-p', name, user, '.*', '.*', '.*');
  } catch (error) {
    await rabbitmqctl('delete_vhost', name).catch(() => undefined);
    throw error;
  }
  const url = new URL(base);
  url.pathname = `/${encodeURIComponent(name)}`;
  return {
    name,
    url: url.href,
    async dropConnections(reason) {
      const output = await rabbitmqctl('close_all_connections', '-p', name, reason);
      const closed = /Closed (\d+) connections?/.exec(output);
      if (!closed) throw new Error(`rabbitmqctl close_all_connections answered something unexpected:\n${output}`);
      return Number(closed[1]);
    },
    drop: async () => void (await rabbitmqctl('delete_vhost', name)),
  };
}
