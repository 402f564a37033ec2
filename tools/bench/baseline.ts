import { connect as connect091 } from 'amqplib';
import { create_container, type Connection, type EventContext } from 'rhea';
import { connect as connectStomp } from 'stompit';
import { parseStompUrl, RABBITMQ_QUEUE_ARGUMENTS } from '@shipdeck/queue';
import { artemisDeleteQueue } from '../../test/queue/artemis';
import { deleteQueue } from '../../test/support/services';
import type { BenchTransport } from './args';
import { cpuBetween, CpuSample, RoleOf, sampleCpu } from './cpu';
import { amqp10Endpoint, describe } from './services';

export interface BaselineOptions {
  /** Which broker and protocol to measure. */
  transport: BenchTransport;
  /** The broker URL of that transport (`amqp://…` or `stomp://…`). */
  url: string;
  /** A queue name nobody uses; the queue is created, and deleted afterwards. */
  queue: string;
  /** Messages published and consumed. */
  messages: number;
  /** The consumer's credit window. */
  creditWindow: number;
  /** Body size in bytes. */
  bodyBytes: number;
  /** Give up after this long. */
  timeoutMs: number;
  /**
   * Open-loop publishing at this many messages per second (message i at i/rate s), as tasks
   * arrive in a phase; default: as fast as the consumer's credit allows.
   */
  ratePerSec?: number;
  /** When given, the broker's CPU from the first send to the last accept is measured (`brokerCpuSec`). */
  roles?: RoleOf;
}

export interface BaselineResult {
  queue: string;
  /** What the broker says it is (open frame, CONNECTED frame), e.g. `RabbitMQ 3.10.8`. */
  broker: string;
  /** How it was measured, for the report. */
  method: string;
  messages: number;
  /** First send to last accept. */
  elapsedMs: number;
  msgsPerSec: number;
  /** The broker's CPU ms per message from the first send to the last accept; null unless asked (`roles`) or without /proc. */
  brokerCpuMsPerMessage: number | null;
}

/**
 * The broker's own ceiling on this machine, measured with rhea directly (this is the one place
 * outside libs/queue that talks to the broker: it measures the broker, not Shipdeck): one AMQP
 * 1.0 connection, a fresh durable quorum queue declared the way the adapter's RabbitMQ dialect
 * declares its task queue, `messages` small durable messages published unsettled while a
 * receiver with a credit window of `creditWindow` consumes and accepts each one. Timed from
 * the first send to the last accept. The queue is deleted afterwards, whatever happened.
 */
export async function measureBrokerBaseline(options: BaselineOptions): Promise<BaselineResult> {
  const { queue, transport } = options;
  const result = ({ brokerCpuSec, ...measured }: Pumped, method: string): BaselineResult => ({
    queue,
    ...measured,
    brokerCpuMsPerMessage: brokerCpuSec === null ? null : (brokerCpuSec * 1000) / options.messages,
    method,
    messages: options.messages,
    msgsPerSec: (options.messages * 1000) / measured.elapsedMs,
  });
  const window = `credit window ${options.creditWindow}, manual accept`;
  if (transport === 'rabbitmq-amqp') {
    await declareQueue(options.url, queue);
    try {
      return result(await pumpThrough(queue, `/amq/queue/${queue}`, options), `rhea, one connection, quorum queue, ${window}`);
    } finally {
      await deleteQueue(queue, options.url).catch(() => undefined);
    }
  }
  try {
    // Artemis creates the durable ANYCAST queue on the first attach or SEND.
    if (transport === 'artemis-amqp') {
      return result(await pumpThrough(queue, queue, options), `rhea, one connection, anycast queue, ${window}`);
    }
    return result(await pumpThroughStomp(queue, options), 'stompit, one connection, persistent SENDs with receipts, client-individual ACK');
  } finally {
    await artemisDeleteQueue(queue).catch(() => undefined);
  }
}

/** A durable quorum queue over AMQP 0-9-1 (AMQP 1.0 cannot declare one on RabbitMQ 3.x). */
async function declareQueue(url: string, queue: string): Promise<void> {
  const connection = await connect091(url, { timeout: 10_000 });
  try {
    const channel = await connection.createChannel();
    await channel.assertQueue(queue, { durable: true, arguments: { ...RABBITMQ_QUEUE_ARGUMENTS } });
  } finally {
    await connection.close().catch(() => undefined);
  }
}

/** What a pump measured. */
interface Pumped {
  elapsedMs: number;
  broker: string;
  brokerCpuSec: number | null;
}

function pumpThrough(queue: string, address: string, options: BaselineOptions): Promise<Pumped> {
  const capabilities = options.transport === 'artemis-amqp' ? { capabilities: ['queue'] } : {};
  const body = 'x'.repeat(options.bodyBytes);
  const container = create_container({ id: `shipdeck-bench-${queue}` });
  container.on('error', () => undefined);
  const connection: Connection = container.connect({ ...amqp10Endpoint(options.url), reconnect: false });

  return new Promise((resolve, reject) => {
    let broker = 'unknown broker';
    let sent = 0;
    let acknowledged = 0;
    let received = 0;
    let startedAt = 0;
    let senderOpen = false;
    let receiverOpen = false;
    let finished = false;
    let nextDue: NodeJS.Timeout | undefined;
    let cpuBefore: CpuSample | null = null;

    const finish = (error?: Error) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      clearTimeout(nextDue);
      const elapsed = performance.now() - startedAt;
      const cpuAfter = options.roles ? sampleCpu(options.roles) : null;
      const brokerCpuSec = cpuBefore && cpuAfter ? cpuBetween(cpuBefore, cpuAfter).bySec.broker : null;
      closeConnection(connection).then(() => (error ? reject(error) : resolve({ elapsedMs: elapsed, broker, brokerCpuSec })));
    };
    const timer = setTimeout(
      () =>
        finish(
          new Error(
            `broker baseline: not done within ${options.timeoutMs} ms (sent ${sent}, accepted by the broker ${acknowledged}, received ${received} of ${options.messages})`,
          ),
        ),
      options.timeoutMs,
    );

    connection.on('connection_open', () => {
      const properties = (connection.properties ?? {}) as Record<string, unknown>;
      broker = [properties.product, properties.version].filter((v) => v !== undefined).map(String).join(' ') || broker;
    });
    const sender = connection.open_sender({ target: { address, ...capabilities } });
    const pump = () => {
      if (!senderOpen || !receiverOpen || finished) return;
      if (sent === 0) {
        startedAt = performance.now();
        if (options.roles) cpuBefore = sampleCpu(options.roles);
      }
      // Paced: only the messages due by now; a timer to the next one keeps the schedule.
      const due = options.ratePerSec === undefined ? options.messages : Math.min(options.messages, Math.floor(((performance.now() - startedAt) * options.ratePerSec) / 1000) + 1);
      while (sent < due && sender.sendable()) {
        sender.send({ message_id: sent, durable: true, body });
        sent++;
      }
      if (options.ratePerSec !== undefined && sent < options.messages && nextDue === undefined) {
        const wait = Math.max(0, startedAt + ((sent * 1000) / options.ratePerSec) - performance.now());
        nextDue = setTimeout(() => {
          nextDue = undefined;
          pump();
        }, wait);
      }
    };
    sender.on('sender_open', () => {
      senderOpen = true;
      pump();
    });
    sender.on('sendable', pump);
    sender.on('accepted', () => void acknowledged++);
    for (const outcome of ['rejected', 'released', 'modified'] as const) {
      sender.on(outcome, (context: EventContext) =>
        finish(new Error(`broker baseline: the broker ${outcome} a message (${describe(context.delivery?.remote_state)})`)),
      );
    }

    const receiver = connection.open_receiver({ source: { address, ...capabilities }, credit_window: options.creditWindow, autoaccept: false });
    receiver.on('receiver_open', () => {
      receiverOpen = true;
      pump();
    });
    receiver.on('message', (context: EventContext) => {
      context.delivery?.accept();
      received++;
      if (received === options.messages) finish();
    });

    const failed = (what: string) => (context: EventContext) => {
      const error = context.error ?? context.sender?.error ?? context.receiver?.error ?? context.connection?.error;
      finish(new Error(`broker baseline: ${what} (${describe(error ?? 'no reason given')})`));
    };
    connection.on('disconnected', failed('disconnected'));
    connection.on('connection_error', failed('connection error'));
    connection.on('sender_error', failed('sender error'));
    connection.on('receiver_error', failed('receiver error'));
  });
}

/** Closes and waits (bounded) for the broker's answer, so the last accepts reach it. */
function closeConnection(connection: Connection): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(done, 5000);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    connection.once('connection_close', done);
    connection.once('disconnected', done);
    try {
      connection.close();
    } catch {
      done();
    }
  });
}

/**
 * The STOMP counterpart on Artemis: persistent SENDs each asking for a RECEIPT (at most
 * `creditWindow` unanswered), one client-individual subscription with Artemis's default window
 * acknowledging every message. Timed from the first SEND to the RECEIPT of a final frame sent
 * after the last ACK (so every ACK reached the broker).
 */
function pumpThroughStomp(queue: string, options: BaselineOptions): Promise<Pumped> {
  const endpoint = parseStompUrl(options.url);
  const body = 'x'.repeat(options.bodyBytes);
  return new Promise((resolve, reject) => {
    let finished = false;
    let sent = 0;
    let confirmed = 0;
    let received = 0;
    let startedAt = 0;
    const timer = setTimeout(
      () => finish(new Error(`broker baseline: not done within ${options.timeoutMs} ms (sent ${sent}, confirmed ${confirmed}, received ${received})`)),
      options.timeoutMs,
    );
    const client = connectStomp(
      {
        host: endpoint.host,
        port: endpoint.port,
        connectHeaders: { host: endpoint.host, login: endpoint.username ?? '', passcode: endpoint.password ?? '', 'heart-beat': '0,0' },
      },
      (error) => {
        if (error) return finish(error);
        client.subscribe({ destination: queue, 'destination-type': 'ANYCAST', ack: 'client-individual' }, (messageError, frame) => {
          if (messageError) return finish(messageError);
          frame.readString('utf-8', () => {
            client.ack(frame);
            received++;
            if (received === options.messages) {
              // The UNSUBSCRIBE's receipt comes after the broker processed every ACK before it.
              client.sendFrame('UNSUBSCRIBE', { id: String(frame.headers.subscription) }, { onReceipt: () => finish() }).end();
            }
          });
        });
        pump();
      },
    );
    client.on('error', (error: Error) => finish(error));
    const broker = () => client.headers?.server ?? 'ActiveMQ Artemis';
    function pump() {
      while (sent < options.messages && sent - confirmed < options.creditWindow) {
        if (sent === 0) startedAt = performance.now();
        sent++;
        const frame = client.send({ destination: queue, 'destination-type': 'ANYCAST', persistent: 'true' }, { onReceipt: () => {
          confirmed++;
          pump();
        } });
        frame.write(body);
        frame.end();
      }
    }
    function finish(error?: Error) {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      const elapsedMs = performance.now() - startedAt;
      const name = broker();
      client.disconnect(() => undefined);
      setTimeout(() => client.destroy(), 2000).unref();
      if (error) reject(new Error(`broker baseline: ${describe(error)}`));
      else resolve({ elapsedMs, broker: name, brokerCpuSec: null });
    }
  });
}
