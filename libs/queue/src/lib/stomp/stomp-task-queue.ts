import { randomUUID } from 'node:crypto';
import { connect, type Client } from 'stompit';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import { configHashSelector } from '../amqp/dialects/artemis';
import { describeAmqpError, TaskPublishError } from '../amqp/errors';
import type { LevelLogger } from '@shipdeck/logging';
import { TaskMessage } from '../message';
import { ConsumeOptions, DeliveryHandler, TaskConsumer, TaskQueue } from '../port';
import { Reconnector } from '../reconnector';
import { taskMessageBody, taskMessageHeaders } from './envelope';
import { compileStompOptions, CompiledStompOptions, StompTaskQueueOptions } from './options';
import { StompConsumer } from './stomp-consumer';

/**
 * `connecting` (start) → `open` ⇄ `reconnecting` → `closing` → `closed`. Every transition is
 * logged; `closing` and `closed` are final.
 */
export type StompTaskQueueState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** One STOMP connection; after any failure it is dropped whole and a new one made. */
export interface StompSession {
  readonly id: number;
  readonly client: Client;
  /** Dropped (failed, or closed by us): its deliveries can no longer be acknowledged. */
  dropped: boolean;
  /** Sends on this session the broker has not confirmed with a RECEIPT yet. */
  readonly inFlight: Set<PendingSend>;
}

/** A publish waiting for the broker's RECEIPT; it survives reconnects. */
interface PendingSend {
  readonly seq: number;
  readonly message: TaskMessage;
  session?: StompSession;
  finish(error?: Error): void;
}

/** Connects and resolves with a {@link TaskQueue} on ActiveMQ Artemis over STOMP 1.2 (stompit). */
export async function createStompTaskQueue(options: StompTaskQueueOptions): Promise<TaskQueue> {
  const queue = new StompTaskQueue(compileStompOptions(options));
  await queue.start();
  return queue;
}

/**
 * The task queue on Artemis over STOMP. Sends carry a `receipt` header and `publish()` resolves
 * on the broker's RECEIPT (Artemis answers a persistent SEND after its journal write). One
 * connection at a time carries sends and every consumer's subscriptions; when it fails it is
 * replaced with exponential backoff, sends without a RECEIPT are sent again (a message may arrive
 * twice; the claim makes that harmless) and consumers subscribe again.
 */
export class StompTaskQueue implements TaskQueue {
  private stateValue: StompTaskQueueState = 'connecting';
  private readonly instanceId = randomUUID().slice(0, 8);
  private session?: StompSession;
  private sessionCount = 0;
  private disconnectedAt?: number;
  private outbox: PendingSend[] = [];
  private publishSeq = 0;
  private consumerCount = 0;
  private readonly consumers = new Set<StompConsumer>();
  private closing?: Promise<void>;
  readonly logger: LevelLogger;
  /** Re-makes the connection after a drop; close() stops it, so that no connection outlives the queue. */
  private readonly reconnector: Reconnector<StompSession>;

  constructor(readonly options: CompiledStompOptions) {
    this.logger = options.logger;
    this.reconnector = new Reconnector<StompSession>({
      connect: () => this.connect(),
      wanted: () => this.stateValue === 'reconnecting',
      install: (session) => this.install(session),
      discard: (session) => disconnect(session, options.closeTimeoutMs),
      initialDelayMs: options.reconnectInitialDelayMs,
      maxDelayMs: options.reconnectMaxDelayMs,
      logger: options.logger,
      metrics: options.metrics,
      describe: describeAmqpError,
    });
  }

  get state(): StompTaskQueueState {
    return this.stateValue;
  }

  /** Opens the first connection; rejects with a retryable NotReadyError when the broker cannot be reached. */
  async start(): Promise<void> {
    try {
      this.install(await this.connect());
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  publish(message: TaskMessage): Promise<void> {
    if (this.stateValue === 'closing' || this.stateValue === 'closed') {
      return Promise.reject(new TaskPublishError('closed', message.taskId, `cannot publish task ${message.taskId}: the task queue is closed`));
    }
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const pending: PendingSend = {
        seq: this.publishSeq++,
        message,
        finish: (error?: Error) => {
          if (finished) return;
          finished = true;
          clearTimeout(timer);
          if (error) reject(error);
          else resolve();
        },
      };
      const timer = setTimeout(() => {
        this.forgetSend(pending);
        pending.finish(
          new TaskPublishError(
            'timeout',
            message.taskId,
            `task ${message.taskId} was not accepted by the broker within ${this.options.publishTimeoutMs} ms (queue ${this.stateValue})`,
          ),
        );
      }, this.options.publishTimeoutMs);
      this.outbox.push(pending);
      this.flush();
    });
  }

  async consume(options: ConsumeOptions, handler: DeliveryHandler): Promise<TaskConsumer> {
    if (this.stateValue === 'closing' || this.stateValue === 'closed') throw new Error('cannot consume: the task queue is closed');
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new ConfigError(`consumer capacity must be a positive integer, got ${String(options.capacity)}`, [
        { field: 'capacity', message: 'must be a positive integer' },
      ]);
    }
    const selector = options.selectorConfigHash === undefined ? undefined : configHashSelector(options.selectorConfigHash);
    const consumer = new StompConsumer(this, `shipdeck-${this.instanceId}-c${++this.consumerCount}`, { ...options }, selector, handler);
    this.consumers.add(consumer);
    if (this.session) consumer.attach(this.session);
    this.logger.info('consumer active', { consumer: consumer.id, queue: this.options.queueName, capacity: options.capacity });
    return consumer;
  }

  async checkReady(): Promise<void> {
    if (this.stateValue !== 'open') {
      throw new NotReadyError(`the message broker is not connected (task queue ${this.stateValue}); Shipdeck reconnects by itself`);
    }
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  currentSession(): StompSession | undefined {
    return this.session;
  }

  /** Called by a consumer that closed. */
  forget(consumer: StompConsumer): void {
    this.consumers.delete(consumer);
  }

  /** Drops a session after a failure and schedules the next one. Idempotent per session. */
  sessionFailed(session: StompSession, reason: string): void {
    if (session.dropped) return;
    session.dropped = true;
    session.client.destroy();
    if (this.session !== session) return;
    this.session = undefined;
    this.disconnectedAt = Date.now();
    for (const consumer of this.consumers) consumer.sessionLost(session);
    const unconfirmed = [...session.inFlight];
    session.inFlight.clear();
    for (const pending of unconfirmed) pending.session = undefined;
    if (SEND_REFUSED.test(reason)) {
      // The broker refuses this user the right to send (e.g. a worker's credentials): resending
      // would be refused again, so the waiting publishes fail, not retryable.
      this.logger.error('the broker refuses this user publishing to the task queue', { queue: this.options.queueName, error: reason });
      for (const pending of [...unconfirmed, ...this.outbox]) {
        const taskId = pending.message.taskId;
        pending.finish(new TaskPublishError('rejected', taskId, `the broker refused task message ${taskId}: ${reason}`));
      }
      this.outbox = [];
    } else {
      this.outbox = [...unconfirmed, ...this.outbox].sort((a, b) => a.seq - b.seq);
    }
    if (this.stateValue !== 'open') return;
    this.setState('reconnecting', reason, { unsettledSends: unconfirmed.length });
    this.reconnector.schedule();
  }

  /** Opens a connection and resolves once the broker answered CONNECTED. */
  private connect(): Promise<StompSession> {
    const { endpoint, connectTimeoutMs, heartbeatMs } = this.options;
    const id = ++this.sessionCount;
    return new Promise<StompSession>((resolve, reject) => {
      let settled = false;
      let session: StompSession | undefined;
      const fail = (reason: string) => {
        if (!settled) {
          settled = true;
          clearTimeout(timer);
          client.destroy();
          reject(new NotReadyError(`STOMP broker at ${endpoint.redactedUrl} not reachable: ${reason}`));
        } else if (session) {
          this.sessionFailed(session, reason);
        }
      };
      const timer = setTimeout(() => fail(`no CONNECTED within ${connectTimeoutMs} ms`), connectTimeoutMs);
      const client = connect(
        {
          host: endpoint.host,
          port: endpoint.port,
          ...(endpoint.tls ? { ssl: { servername: endpoint.host } } : {}),
          timeout: connectTimeoutMs,
          connectHeaders: {
            host: endpoint.host,
            ...(endpoint.username === undefined ? {} : { login: endpoint.username, passcode: endpoint.password ?? '' }),
            'heart-beat': `${heartbeatMs},${heartbeatMs}`,
            'client-id': `shipdeck-${this.instanceId}-s${id}`,
          },
        },
        (error) => {
          if (error) return fail(describeAmqpError(error));
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          session = { id, client, dropped: false, inFlight: new Set() };
          resolve(session);
        },
      );
      // After CONNECTED every error (an ERROR frame, a socket error, missed heart-beats) ends the session.
      client.on('error', (error: Error) => fail(describeStompError(error)));
      client.on('end', () => fail('connection ended by the broker'));
    });
  }

  private install(session: StompSession): void {
    this.session = session;
    const from = this.stateValue;
    const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
    this.setState('open', from === 'connecting' ? `connected to ${this.options.endpoint.redactedUrl}` : 'reconnected', {
      session: session.id,
      ...(downMs === undefined ? {} : { downMs, attempts: this.reconnector.attempts }),
      resending: this.outbox.length,
    });
    this.reconnector.reset();
    this.disconnectedAt = undefined;
    this.flush();
    for (const consumer of this.consumers) consumer.attach(session);
  }

  /** Sends what waits; each send asks for a RECEIPT. */
  private flush(): void {
    const session = this.session;
    if (!session || session.dropped) return;
    while (this.outbox.length > 0) {
      const pending = this.outbox.shift() as PendingSend;
      pending.session = session;
      session.inFlight.add(pending);
      const frame = session.client.send(taskMessageHeaders(this.options.queueName, pending.message), {
        onReceipt: () => {
          if (!session.inFlight.delete(pending)) return;
          pending.session = undefined;
          pending.finish();
        },
      });
      frame.write(taskMessageBody(pending.message));
      frame.end();
    }
  }

  private forgetSend(pending: PendingSend): void {
    const index = this.outbox.indexOf(pending);
    if (index >= 0) this.outbox.splice(index, 1);
    pending.session?.inFlight.delete(pending);
    pending.session = undefined;
  }

  private async closeNow(): Promise<void> {
    this.setState('closing', 'close requested', { consumers: this.consumers.size, unsent: this.outbox.length });
    const steps: [string, () => void | Promise<void>][] = [
      [
        'stop reconnecting',
        () => this.reconnector.stop(),
      ],
      ['close consumers', async () => void (await Promise.all([...this.consumers].map((consumer) => consumer.close())))],
      ['fail unfinished publishes', () => this.failUnfinishedSends()],
      [
        'disconnect',
        async () => {
          const session = this.session;
          this.session = undefined;
          if (session && !session.dropped) {
            session.dropped = true;
            await disconnect(session, this.options.closeTimeoutMs);
          }
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.warn(`close step "${name}" failed`, { error: describeAmqpError(error) });
      }
    }
    this.setState('closed', 'closed');
  }

  private failUnfinishedSends(): void {
    const unfinished = [...this.outbox, ...(this.session ? [...this.session.inFlight] : [])];
    this.outbox = [];
    this.session?.inFlight.clear();
    for (const pending of unfinished) {
      pending.finish(new TaskPublishError('closed', pending.message.taskId, `task ${pending.message.taskId} was not confirmed before the queue closed`));
    }
  }

  private setState(to: StompTaskQueueState, reason: string, meta: Record<string, unknown> = {}): void {
    const from = this.stateValue;
    this.stateValue = to;
    const line = `STOMP task queue ${from} -> ${to}: ${reason}`;
    const fields = { queue: this.options.queueName, ...meta };
    if (to === 'reconnecting') this.logger.warn(line, fields);
    else this.logger.info(line, fields);
  }
}

/**
 * Artemis's ERROR frame for a SEND it would not take (AMQ339011 "Error sending message"): a user
 * without the send right, mostly (the frame does not say more over stompit). Resending the same
 * message on a new connection would only loop; the master's reconciler publishes a task that
 * stays QUEUED again later anyway.
 */
const SEND_REFUSED = /AMQ339011|AMQ229032|permission='SEND'/;

/** Disconnects politely (DISCONNECT, RECEIPT) and cuts the socket if the broker does not answer in time. */
function disconnect(session: StompSession, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    const timer = setTimeout(() => {
      session.client.destroy();
      resolve();
    }, timeoutMs);
    try {
      session.client.disconnect(() => {
        clearTimeout(timer);
        session.client.destroy();
        resolve();
      });
    } catch {
      clearTimeout(timer);
      session.client.destroy();
      resolve();
    }
  });
}

/** stompit reports an ERROR frame as an error whose `longMessage` holds the broker's text. */
function describeStompError(error: Error): string {
  const long = (error as { longMessage?: unknown }).longMessage;
  return typeof long === 'string' && long.trim() !== '' ? `${error.message}: ${long.trim()}` : error.message;
}
