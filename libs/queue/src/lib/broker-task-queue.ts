import { randomUUID } from 'node:crypto';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import type { LevelLogger } from '@shipdeck/logging';
import { describeAmqpError, TaskPublishError } from './amqp/errors';
import { CompiledBrokerOptions } from './broker-options';
import { TaskMessage } from './message';
import { ConsumeOptions, DeliveryHandler, TaskConsumer, TaskQueue } from './port';
import { Reconnector } from './reconnector';

/**
 * `connecting` (start) → `open` ⇄ `reconnecting` → `closing` → `closed`. Every transition is
 * logged; `closing` and `closed` are final.
 */
export type BrokerTaskQueueState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/** A publish waiting for the broker's confirmation; it survives reconnects. */
export interface PendingSend<E> {
  /** Publication order, kept when unconfirmed sends are resent after a reconnect. */
  readonly seq: number;
  readonly message: TaskMessage;
  /** The message in the adapter's wire format, encoded once. */
  readonly encoded: E;
  /** The connection it was last sent on; undefined while it waits to be (re)sent. */
  connection?: BrokerConnection<E>;
  finish(error?: Error): void;
}

/** One connection to the broker; after any failure it is dropped whole and a new one made. */
export interface BrokerConnection<E> {
  readonly id: number;
  /** Dropped (failed, or closed by us): its deliveries can no longer be settled. */
  dropped: boolean;
  /** Sends on this connection the broker has not confirmed yet, by the adapter's key for them. */
  readonly inFlight: Map<unknown, PendingSend<E>>;
}

/** A consumer as its queue sees it: attached to every new connection, told when one is lost. */
export interface BrokerConsumer<C> extends TaskConsumer {
  readonly id: string;
  /** Starts consuming on a (new) connection; a rejection is logged (the consumer is kept). */
  attach(connection: C): void | Promise<void>;
  /** The connection is gone; its deliveries can no longer be settled. */
  connectionLost(connection: C): void;
}

/**
 * What the AMQP 1.0 and STOMP adapters share: the state, one connection at a time replaced
 * with backoff after any failure (a {@link Reconnector}), the outbox of publishes the broker has
 * not confirmed (resent in order on the next connection, so a message may arrive twice, which
 * the claim makes harmless), the consumers re-attached on every connection, and `close()`.
 * A subclass speaks the protocol: it opens and closes connections, sends what waits
 * ({@link flush}) and reports each confirmation ({@link confirmed}).
 */
export abstract class BrokerTaskQueue<O extends CompiledBrokerOptions, C extends BrokerConnection<E>, E, K extends BrokerConsumer<C>>
  implements TaskQueue
{
  private stateValue: BrokerTaskQueueState = 'connecting';
  protected readonly instanceId = randomUUID().slice(0, 8);
  /** The connection in use; undefined while (re)connecting and after close. */
  protected connection?: C;
  private connectionCount = 0;
  private disconnectedAt?: number;
  /** Publishes waiting to be (re)sent, in publication order. */
  protected outbox: PendingSend<E>[] = [];
  private publishSeq = 0;
  private consumerCount = 0;
  protected readonly consumers = new Set<K>();
  private closing?: Promise<void>;
  readonly logger: LevelLogger;
  /** Re-makes the connection after a drop; close() stops it, so that no connection outlives the queue. */
  protected readonly reconnector: Reconnector<C>;

  /**
   * @param protocol names the adapter in log lines (`AMQP task queue open -> reconnecting: …`).
   * @param connectionNoun the log field that carries a connection's id (`wire`, `session`).
   */
  protected constructor(
    readonly options: O,
    private readonly protocol: string,
    private readonly connectionNoun: string,
  ) {
    this.logger = options.logger;
    this.reconnector = new Reconnector<C>({
      connect: () => this.openConnection(++this.connectionCount),
      wanted: () => this.stateValue === 'reconnecting',
      install: (connection) => this.install(connection),
      discard: (connection) => this.closeConnection(connection),
      initialDelayMs: options.reconnectInitialDelayMs,
      maxDelayMs: options.reconnectMaxDelayMs,
      logger: options.logger,
      metrics: options.metrics,
      describe: describeAmqpError,
    });
  }

  /** Opens a connection; rejects with a retryable NotReadyError when the broker cannot be reached. */
  protected abstract openConnection(id: number): Promise<C>;
  /** Closes a healthy connection politely, bounded by `closeTimeoutMs`; marks it dropped. */
  protected abstract closeConnection(connection: C): Promise<void>;
  /** Marks a failed connection dropped and cuts it without waiting. */
  protected abstract dropConnection(connection: C): void;
  /** The connection became the current one: the subclass takes it into use (e.g. sends what waits). */
  protected abstract connected(connection: C): void;
  /** Sends what waits in the outbox on the current connection, as far as the protocol allows. */
  protected abstract flush(): void;
  protected abstract encode(message: TaskMessage): E;
  protected abstract createConsumer(id: string, options: ConsumeOptions, handler: DeliveryHandler): K;

  get state(): BrokerTaskQueueState {
    return this.stateValue;
  }

  /** Prepares the broker (see {@link prepare}) and opens the first connection. */
  async start(): Promise<void> {
    try {
      await this.prepare();
      this.install(await this.openConnection(++this.connectionCount));
    } catch (error) {
      await this.close();
      throw error;
    }
  }

  publish(message: TaskMessage): Promise<void> {
    if (this.stateValue === 'closing' || this.stateValue === 'closed') {
      return Promise.reject(new TaskPublishError('closed', message.taskId, `cannot publish task ${message.taskId}: the task queue is closed`));
    }
    const encoded = this.encode(message);
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const pending: PendingSend<E> = {
        seq: this.publishSeq++,
        message,
        encoded,
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
      this.publishing();
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
    const consumer = this.createConsumer(`shipdeck-${this.instanceId}-c${++this.consumerCount}`, { ...options }, handler);
    this.consumers.add(consumer);
    if (this.connection) {
      try {
        await consumer.attach(this.connection);
      } catch (error) {
        this.consumers.delete(consumer);
        throw error;
      }
    }
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

  /** The connection in use now; undefined while reconnecting. */
  currentConnection(): C | undefined {
    return this.connection;
  }

  /** Called by a consumer that closed. */
  forget(consumer: K): void {
    this.consumers.delete(consumer);
  }

  /**
   * Drops a connection after a failure and schedules the next one; its unconfirmed sends go
   * back to the outbox (or fail, when {@link refusesSending} says the broker refuses them).
   * Idempotent per connection.
   */
  connectionFailed(connection: C, reason: string): void {
    if (connection.dropped) return;
    this.dropConnection(connection);
    if (this.connection !== connection) return;
    this.connection = undefined;
    this.disconnectedAt = Date.now();
    for (const consumer of this.consumers) consumer.connectionLost(connection);
    const unconfirmed = this.takeInFlight(connection);
    if (this.refusesSending(reason)) this.refuseSends(unconfirmed, reason);
    else this.outbox = [...unconfirmed, ...this.outbox].sort((a, b) => a.seq - b.seq);
    if (this.stateValue !== 'open') return;
    this.setState('reconnecting', reason, { unsettledSends: unconfirmed.length });
    this.reconnector.schedule();
  }

  /** Work before the first connection (e.g. declaring the queue). */
  protected async prepare(): Promise<void> {
    // Nothing by default.
  }

  /** Called on every publish before the flush (e.g. to open a publishing link on first use). */
  protected publishing(): void {
    // Nothing by default.
  }

  /** Whether a connection failure says the broker refuses this user sending (resending would loop). */
  protected refusesSending(_reason: string): boolean {
    return false;
  }

  /** Log fields of every state transition besides the queue name. */
  protected stateFields(): Record<string, unknown> {
    return {};
  }

  /**
   * Sends waiting publishes on `connection` while `sendable()` allows; `send` puts one on the
   * wire and returns the key it stays in flight under until {@link confirmed}.
   */
  protected sendWaiting(connection: C, sendable: () => boolean, send: (pending: PendingSend<E>) => unknown): void {
    while (this.outbox.length > 0 && sendable()) {
      const pending = this.outbox.shift() as PendingSend<E>;
      pending.connection = connection;
      connection.inFlight.set(send(pending), pending);
    }
  }

  /** The broker answered the send in flight under `key`: it leaves the connection; undefined when unknown. */
  protected confirmed(connection: C, key: unknown): PendingSend<E> | undefined {
    const pending = connection.inFlight.get(key);
    if (!pending) return undefined;
    connection.inFlight.delete(key);
    pending.connection = undefined;
    return pending;
  }

  /** Takes every send in flight on the connection off it. */
  protected takeInFlight(connection: C): PendingSend<E>[] {
    const unconfirmed = [...connection.inFlight.values()];
    connection.inFlight.clear();
    for (const pending of unconfirmed) pending.connection = undefined;
    return unconfirmed;
  }

  /**
   * The broker refuses this user publishing: no reconnect would change that, so `unconfirmed`
   * and every waiting publish fail, not retryable.
   */
  protected refuseSends(unconfirmed: PendingSend<E>[], detail: string): void {
    const refused = [...unconfirmed, ...this.outbox];
    this.outbox = [];
    this.logger.error('the broker refuses this user publishing to the task queue', { queue: this.options.queueName, error: detail });
    for (const pending of refused) {
      const taskId = pending.message.taskId;
      pending.finish(new TaskPublishError('rejected', taskId, `the broker refused task message ${taskId}: ${detail}`));
    }
  }

  /** Makes a freshly opened connection the current one; consumers attach to it. */
  private install(connection: C): void {
    this.connection = connection;
    const from = this.stateValue;
    const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
    this.setState('open', from === 'connecting' ? `connected to ${this.options.endpoint.redactedUrl}` : 'reconnected', {
      [this.connectionNoun]: connection.id,
      ...(downMs === undefined ? {} : { downMs, attempts: this.reconnector.attempts }),
      resending: this.outbox.length,
    });
    this.reconnector.reset();
    this.disconnectedAt = undefined;
    this.connected(connection);
    for (const consumer of this.consumers) {
      Promise.resolve(consumer.attach(connection)).catch((error: unknown) =>
        this.logger.error('consumer could not re-attach', { consumer: consumer.id, error: describeAmqpError(error) }),
      );
    }
  }

  private forgetSend(pending: PendingSend<E>): void {
    const index = this.outbox.indexOf(pending);
    if (index >= 0) this.outbox.splice(index, 1);
    if (pending.connection) {
      for (const [key, candidate] of pending.connection.inFlight) {
        if (candidate === pending) pending.connection.inFlight.delete(key);
      }
      pending.connection = undefined;
    }
  }

  private async closeNow(): Promise<void> {
    this.setState('closing', 'close requested', { consumers: this.consumers.size, unsent: this.outbox.length });
    const steps: [string, () => void | Promise<void>][] = [
      ['stop reconnecting', () => this.reconnector.stop()],
      ['close consumers', async () => void (await Promise.all([...this.consumers].map((consumer) => consumer.close())))],
      ['fail unfinished publishes', () => this.failUnfinishedSends()],
      [
        'close the connection',
        async () => {
          const connection = this.connection;
          this.connection = undefined;
          if (connection && !connection.dropped) await this.closeConnection(connection);
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.error(`closing the ${this.protocol} task queue: ${name} failed`, { error: describeAmqpError(error) });
      }
    }
    this.setState('closed', 'closed');
  }

  private failUnfinishedSends(): void {
    const unfinished = [...this.outbox, ...(this.connection ? this.takeInFlight(this.connection) : [])];
    this.outbox = [];
    for (const pending of unfinished) {
      pending.finish(
        new TaskPublishError('closed', pending.message.taskId, `task queue closed before the broker accepted task ${pending.message.taskId}`),
      );
    }
  }

  private setState(to: BrokerTaskQueueState, reason: string, meta: Record<string, unknown> = {}): void {
    const from = this.stateValue;
    this.stateValue = to;
    const line = `${this.protocol} task queue ${from} -> ${to}: ${reason}`;
    const fields = { queue: this.options.queueName, ...this.stateFields(), ...meta };
    if (to === 'reconnecting') this.logger.warn(line, fields);
    else this.logger.info(line, fields);
  }
}
