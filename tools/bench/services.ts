import { artemisUrls, requireArtemis } from '../../test/queue/artemis';
import { requireServices as requireClusterServices, TEST_AMQP_URL, TEST_DATABASE_URL } from '../../test/support/services';
import type { BenchTransport } from './args';

/** The services the bench runs against: the integration tests' variables and defaults. */
export const DATABASE_URL = TEST_DATABASE_URL;
export const AMQP_URL = TEST_AMQP_URL;

/** A service the bench needs is missing; the message says what to start or set. */
export class ServiceUnavailableError extends Error {}

/** The task queue URL of a transport: RabbitMQ's, or the Artemis instance's AMQP or STOMP URL. */
export function queueUrl(transport: BenchTransport): string {
  if (transport === 'rabbitmq-amqp') return AMQP_URL;
  return transport === 'artemis-amqp' ? artemisUrls().amqp : artemisUrls().stomp;
}

/**
 * Fails with a {@link ServiceUnavailableError} naming what to start when PostgreSQL or the broker
 * is not usable. RabbitMQ is checked for every transport: the cluster launcher checks it.
 */
export async function requireServices(transport: BenchTransport = 'rabbitmq-amqp'): Promise<void> {
  try {
    await requireClusterServices({ databaseUrl: DATABASE_URL, amqpUrl: AMQP_URL });
    if (transport !== 'rabbitmq-amqp') await requireArtemis();
  } catch (error) {
    const text = error instanceof Error ? error.message : String(error);
    throw new ServiceUnavailableError(text.replace(/^integration test services are missing:\n/, ''));
  }
}

/** rhea connect options for an `amqp://user:password@host:port[/vhost]` URL (RabbitMQ picks the vhost by hostname). */
export function amqp10Endpoint(url: string): {
  host: string;
  port: number;
  username?: string;
  password?: string;
  hostname?: string;
} {
  const parsed = new URL(url);
  const vhost = decodeURIComponent(parsed.pathname.replace(/^\//, ''));
  return {
    host: parsed.hostname.replace(/^\[(.*)\]$/, '$1') || 'localhost',
    port: Number(parsed.port || 5672),
    ...(parsed.username ? { username: decodeURIComponent(parsed.username), password: decodeURIComponent(parsed.password) } : {}),
    ...(vhost ? { hostname: `vhost:${vhost}` } : {}),
  };
}

/** A readable reason from an Error, an AMQP error condition or anything else. */
export function describe(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  if (error && typeof error === 'object') {
    const described = error as { description?: unknown; condition?: unknown; message?: unknown };
    const text = [described.condition, described.description ?? described.message].filter(Boolean).join(': ');
    if (text) return text;
  }
  return String(error);
}
