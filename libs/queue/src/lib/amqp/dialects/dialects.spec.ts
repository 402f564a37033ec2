import type { Delivery as RheaDelivery } from 'rhea';
import { parseAmqpUrl } from '../options';
import { artemisDialect, configHashSelector } from './artemis';
import { detectDialect, dialectByName } from './detect';
import { rabbitmqDialect } from './rabbitmq';

/** A delivery that records how it was settled. */
function recordingDelivery(): { delivery: RheaDelivery; calls: unknown[][] } {
  const calls: unknown[][] = [];
  const record =
    (name: string) =>
    (...args: unknown[]) =>
      void calls.push([name, ...args]);
  const delivery = { release: record('release'), accept: record('accept'), reject: record('reject'), modified: record('modified') };
  return { delivery: delivery as unknown as RheaDelivery, calls };
}

describe('artemis dialect', () => {
  it('addresses the queue by name with the queue capability, both ways', () => {
    expect(artemisDialect.source('shipdeck-tasks')).toEqual({ address: 'shipdeck-tasks', capabilities: ['queue'] });
    expect(artemisDialect.target('shipdeck-tasks')).toEqual({ address: 'shipdeck-tasks', capabilities: ['queue'] });
  });

  it('filters a consumer by a JMS selector on the config hash when given one', () => {
    const source = artemisDialect.source('q', 'abc');
    expect(Object.keys(source.filter ?? {})).toEqual(['jms-selector']);
    expect(JSON.stringify(source.filter?.['jms-selector'])).toContain("configHash = 'abc'");
    expect(artemisDialect.honoursSelector).toBe(true);
  });

  it('doubles quotes in the selector literal', () => {
    expect(configHashSelector("it's")).toBe("configHash = 'it''s'");
  });

  it('hands back as modified: delivery failed, undeliverable here', () => {
    const { delivery, calls } = recordingDelivery();
    artemisDialect.handBack(delivery);
    expect(calls).toEqual([['release', { delivery_failed: true, undeliverable_here: true }]]);
  });

  it('needs no preparation and keeps the host as open hostname', async () => {
    await expect(artemisDialect.prepare({} as never)).resolves.toBeUndefined();
    expect(artemisDialect.openHostname(parseAmqpUrl('amqp://artemis:5672/ignored'))).toBe('artemis');
  });
});

describe('rabbitmq dialect', () => {
  it('addresses the declared queue as /amq/queue/NAME and sends no selector', () => {
    expect(rabbitmqDialect.source('shipdeck-tasks', 'abc')).toEqual({ address: '/amq/queue/shipdeck-tasks' });
    expect(rabbitmqDialect.target('shipdeck-tasks')).toEqual({ address: '/amq/queue/shipdeck-tasks' });
    expect(rabbitmqDialect.honoursSelector).toBe(false);
  });

  it('hands back with a plain released only (3.10 ends the session on modified)', () => {
    const { delivery, calls } = recordingDelivery();
    rabbitmqDialect.handBack(delivery);
    expect(calls).toEqual([['release']]);
  });

  it('selects the virtual host of the URL through the open hostname', () => {
    expect(rabbitmqDialect.openHostname(parseAmqpUrl('amqp://rabbit:5672/prod'))).toBe('vhost:prod');
    expect(rabbitmqDialect.openHostname(parseAmqpUrl('amqp://rabbit:5672'))).toBeUndefined();
  });
});

describe('detectDialect', () => {
  it.each([
    [{ product: 'RabbitMQ', version: '3.10.8' }, 'rabbitmq', true],
    [{ product: 'apache-activemq-artemis', version: '2.33.0' }, 'artemis', true],
    [{ product: Buffer.from('RabbitMQ') }, 'rabbitmq', true],
    [{ product: 'qpid-dispatch-router' }, 'artemis', false],
    [undefined, 'artemis', false],
  ])('reads %j as %s (known: %s)', (properties, dialect, known) => {
    expect(detectDialect(properties as Record<string, unknown> | undefined)).toEqual({ dialect, known });
  });

  it('finds each profile by name', () => {
    expect(dialectByName('artemis')).toBe(artemisDialect);
    expect(dialectByName('rabbitmq')).toBe(rabbitmqDialect);
  });
});
