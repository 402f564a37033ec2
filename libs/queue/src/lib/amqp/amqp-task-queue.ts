import { randomUUID } from 'node:crypto';
import { create_container, type Container, type EventContext, type SenderOptions } from 'rhea';
import { ConfigError, NotReadyError } from '@shipdeck/errors';
import { LevelLogger } from '@shipdeck/logging';
import { TaskMessage } from '../message';
import { ConsumeOptions, DeliveryHandler, TaskConsumer, TaskQueue } from '../port';
import { AmqpConsumer, ConsumerHost } from './amqp-consumer';
import { AmqpDialect } from './dialects/dialect';
import { brokerIdentity, detectDialect, dialectByName } from './dialects/detect';
import { encodeTaskMessage } from './envelope';
import { describeAmqpError, TaskPublishError } from './errors';
import { Reconnector } from '../reconnector';
import { AmqpTaskQueueOptions, CompiledAmqpOptions, compileAmqpOptions } from './options';
import { closeWire, discardWire, openWire, PendingSend, Wire } from './wire';

/**
 * `connecting` (start) → `open` ⇄ `reconnecting` → `closing` → `closed`. Every transition is
 * logged; `closing` and `closed` are final.
 */
export type AmqpTaskQueueState = 'connecting' | 'open' | 'reconnecting' | 'closing' | 'closed';

/**
 * Connects to the broker (declaring the queue where the dialect needs it) and resolves with a
 * {@link TaskQueue} on it. With `dialect: 'auto'` a first, short connection reads the broker's
 * product from its open frame. Rejects with a retryable `NotReadyError` when the broker cannot
 * be reached, with a `ConfigError` for options or a queue the broker has with other properties.
 */
export async function createAmqpTaskQueue(options: AmqpTaskQueueOptions): Promise<TaskQueue> {
  const compiled = compileAmqpOptions(options);
  const queue = new AmqpTaskQueue(compiled, await resolveDialect(compiled));
  await queue.start();
  return queue;
}

/** The dialect named in the options, or the one the broker's open frame names. */
async function resolveDialect(options: CompiledAmqpOptions): Promise<AmqpDialect> {
  if (options.dialect !== 'auto') return dialectByName(options.dialect);
  const container = create_container({ id: `shipdeck-probe-${randomUUID()}` });
  container.on('error', () => undefined);
  const wire = await openWire(container, options, undefined, 0, () => undefined);
  const properties = wire.connection.properties as Record<string, unknown> | undefined;
  await closeWire(wire, options.closeTimeoutMs);
  const { dialect, known } = detectDialect(properties);
  const identity = brokerIdentity(properties);
  if (known) {
    options.logger.info(`AMQP broker is ${identity.product} ${identity.version ?? ''}; using the ${dialect} dialect`.replace('  ', ' '));
  } else {
    options.logger.warn(`AMQP broker product "${identity.product ?? 'unknown'}" not recognised; using the ${dialect} dialect`);
  }
  return dialectByName(dialect);
}

/**
 * The task queue on an AMQP 1.0 broker (rhea). One connection at a time (a *wire*) carries the
 * publishing link and every consumer link; when any part of it fails, the whole wire is
 * dropped and replaced with exponential backoff: sends the broker had not settled are resent
 * (so a message may arrive twice, which the claim makes harmless), consumer links re-attach
 * with fresh credit, deliveries of the dropped wire can no longer be settled (the broker
 * redelivers them).
 */
export class AmqpTaskQueue implements TaskQueue, ConsumerHost {
  private stateValue: AmqpTaskQueueState = 'connecting';
  private readonly container: Container;
  private readonly instanceId = randomUUID().slice(0, 8);
  private wire?: Wire;
  private wireCount = 0;
  private disconnectedAt?: number;
  /** Publishes waiting to be (re)sent, in publication order. */
  private outbox: PendingSend[] = [];
  private publishSeq = 0;
  private consumerCount = 0;
  private readonly consumers = new Set<AmqpConsumer>();
  private closing?: Promise<void>;
  /**
   * Whether this queue publishes: the publishing link is opened at the first publish() and on
   * every wire after it, not before, so that a worker whose user may only consume (Artemis roles)
   * does not have each of its connections ended by a refused sender.
   */
  private publishing = false;
  private readonly logger: LevelLogger;
  /** Re-makes the wire after a drop; close() stops it, so that no connection outlives the queue. */
  private readonly reconnector: Reconnector<Wire>;

  constructor(
    readonly options: CompiledAmqpOptions,
    readonly dialect: AmqpDialect,
  ) {
    this.logger = options.logger;
    this.reconnector = new Reconnector<Wire>({
      connect: () => this.connect(),
      wanted: () => this.stateValue === 'reconnecting',
      install: (wire) => this.install(wire),
      discard: (wire) => closeWire(wire, options.closeTimeoutMs),
      initialDelayMs: options.reconnectInitialDelayMs,
      maxDelayMs: options.reconnectMaxDelayMs,
      logger: options.logger,
      metrics: options.metrics,
      describe: describeAmqpError,
    });
    this.container = create_container({ id: `shipdeck-${this.instanceId}` });
    // Link and session errors are handled where they happen; this only keeps rhea from
    // throwing an unhandled 'error' event for one nobody listens to.
    this.container.on('error', (error: unknown) => this.logger.debug('AMQP container error', { error: describeAmqpError(error) }));
  }

  get state(): AmqpTaskQueueState {
    return this.stateValue;
  }

  /** Prepares the broker for the dialect (e.g. declares the queue) and opens the first wire. */
  async start(): Promise<void> {
    const { url, endpoint, queueName, logger } = this.options;
    try {
      await this.dialect.prepare({ url, endpoint, queueName, logger });
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
    const encoded = encodeTaskMessage(message);
    return new Promise<void>((resolve, reject) => {
      let finished = false;
      const pending: PendingSend = {
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
      if (!this.publishing) {
        this.publishing = true;
        if (this.wire && !this.wire.dropped) this.openSender(this.wire);
      }
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
    if (options.selectorConfigHash !== undefined && !this.dialect.honoursSelector) {
      this.logger.debug(`the ${this.dialect.name} dialect cannot filter by configuration hash; the handler checks it`);
    }
    const consumer = new AmqpConsumer(this, `shipdeck-${this.instanceId}-c${++this.consumerCount}`, { ...options }, handler);
    this.consumers.add(consumer);
    if (this.wire) {
      try {
        await consumer.attach(this.wire);
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

  /** Called by a consumer that closed. */
  forget(consumer: AmqpConsumer): void {
    this.consumers.delete(consumer);
  }

  /** Drops a wire after a failure and schedules the next one. Idempotent per wire. */
  wireFailed(wire: Wire, reason: string): void {
    if (wire.dropped) return;
    discardWire(wire, this.options.closeTimeoutMs);
    if (this.wire !== wire) return;
    this.wire = undefined;
    this.disconnectedAt = Date.now();
    for (const consumer of this.consumers) consumer.wireLost(wire);
    const unsettled = [...wire.inFlight.values()];
    wire.inFlight.clear();
    for (const pending of unsettled) pending.wire = undefined;
    this.outbox = [...unsettled, ...this.outbox].sort((a, b) => a.seq - b.seq);
    if (this.stateValue !== 'open') return;
    this.setState('reconnecting', reason, { unsettledSends: unsettled.length });
    this.reconnector.schedule();
  }

  private connect(): Promise<Wire> {
    return openWire(this.container, this.options, this.dialect.openHostname(this.options.endpoint), ++this.wireCount, (wire, reason) =>
      this.wireFailed(wire, reason),
    );
  }

  /** Makes a freshly opened wire the current one: sender, consumer links, resends. */
  private install(wire: Wire): void {
    this.wire = wire;
    const from = this.stateValue;
    const downMs = this.disconnectedAt === undefined ? undefined : Date.now() - this.disconnectedAt;
    this.setState('open', from === 'connecting' ? `connected to ${this.options.endpoint.redactedUrl}` : 'reconnected', {
      wire: wire.id,
      ...(downMs === undefined ? {} : { downMs, attempts: this.reconnector.attempts }),
      resending: this.outbox.length,
    });
    this.reconnector.reset();
    this.disconnectedAt = undefined;
    if (this.publishing) this.openSender(wire);
    for (const consumer of this.consumers) {
      consumer.attach(wire).catch((error: unknown) =>
        this.logger.error('consumer link could not re-attach', { consumer: consumer.id, error: describeAmqpError(error) }),
      );
    }
  }

  private openSender(wire: Wire): void {
    const senderOptions: SenderOptions & { treat_modified_as_released: boolean } = {
      name: `shipdeck-${this.instanceId}-p-w${wire.id}`,
      target: this.dialect.target(this.options.queueName),
      // Unsettled until the broker says: publish() resolves on the broker's outcome only.
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
      // rhea option missing from its typings: report modified as modified, not as released.
      treat_modified_as_released: false,
    };
    const sender = wire.connection.open_sender(senderOptions);
    wire.sender = sender;
    sender.on('sender_open', () => {
      wire.senderReady = true;
      this.flush();
    });
    // Handled with the close below (listening here keeps rhea from bubbling it to the connection).
    sender.on('sender_error', () => undefined);
    sender.on('sender_close', () => this.senderClosed(wire, sender.error));
    sender.on('sendable', () => this.flush());
    sender.on('accepted', (context: EventContext) => this.sendSettled(wire, context));
    sender.on('rejected', (context: EventContext) => this.sendSettled(wire, context, 'rejected'));
    sender.on('released', (context: EventContext) => this.sendSettled(wire, context, 'released'));
    sender.on('modified', (context: EventContext) => this.sendSettled(wire, context, 'modified'));
  }

  /**
   * The broker ended the publishing link. Refused for lack of rights: no reconnect would change
   * that, so the publishes waiting fail (not retryable) and the wire stays up for the consumers.
   * Anything else: the wire is replaced like after any failure.
   */
  private senderClosed(wire: Wire, error: unknown): void {
    if (wire.dropped || this.wire !== wire) return;
    if ((error as { condition?: unknown } | undefined)?.condition !== 'amqp:unauthorized-access') {
      this.wireFailed(wire, `publishing link closed by the broker (${describeAmqpError(error)})`);
      return;
    }
    wire.sender = undefined;
    wire.senderReady = false;
    this.publishing = false;
    const refused = [...wire.inFlight.values(), ...this.outbox];
    wire.inFlight.clear();
    this.outbox = [];
    const detail = describeAmqpError(error);
    this.logger.error('the broker refuses this user publishing to the task queue', { queue: this.options.queueName, error: detail });
    for (const pending of refused) {
      pending.wire = undefined;
      const taskId = pending.message.taskId;
      pending.finish(new TaskPublishError('rejected', taskId, `the broker refused task message ${taskId}: ${detail}`));
    }
  }

  /** Sends what waits, as far as the broker's credit allows. */
  private flush(): void {
    const wire = this.wire;
    const sender = wire?.sender;
    if (!wire || !sender || !wire.senderReady || wire.dropped) return;
    while (this.outbox.length > 0 && sender.sendable()) {
      const pending = this.outbox.shift() as PendingSend;
      pending.wire = wire;
      wire.inFlight.set(sender.send(pending.encoded), pending);
    }
  }

  private sendSettled(wire: Wire, context: EventContext, failure?: 'rejected' | 'released' | 'modified'): void {
    const delivery = context.delivery;
    const pending = delivery && wire.inFlight.get(delivery);
    if (!delivery || !pending) return;
    wire.inFlight.delete(delivery);
    pending.wire = undefined;
    if (!failure) {
      pending.finish();
      return;
    }
    const taskId = pending.message.taskId;
    const detail = describeAmqpError((delivery.remote_state as { error?: unknown } | undefined)?.error);
    const text =
      failure === 'rejected'
        ? `the broker rejected task message ${taskId} (${detail})`
        : `the broker did not take task message ${taskId} (${failure}); publish it again later`;
    this.logger.warn(`publish ${failure}`, { taskId, queue: this.options.queueName });
    pending.finish(new TaskPublishError(failure, taskId, text));
  }

  private forgetSend(pending: PendingSend): void {
    const index = this.outbox.indexOf(pending);
    if (index >= 0) this.outbox.splice(index, 1);
    if (pending.wire) {
      for (const [delivery, candidate] of pending.wire.inFlight) {
        if (candidate === pending) pending.wire.inFlight.delete(delivery);
      }
      pending.wire = undefined;
    }
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
        'close the connection',
        async () => {
          const wire = this.wire;
          this.wire = undefined;
          if (wire) await closeWire(wire, this.options.closeTimeoutMs);
        },
      ],
    ];
    for (const [name, step] of steps) {
      try {
        await step();
      } catch (error) {
        this.logger.error(`closing the AMQP task queue: ${name} failed`, { error: describeAmqpError(error) });
      }
    }
    this.setState('closed', 'closed');
  }

  private failUnfinishedSends(): void {
    const unfinished = [...this.outbox, ...(this.wire ? this.wire.inFlight.values() : [])];
    this.outbox = [];
    this.wire?.inFlight.clear();
    for (const pending of unfinished) {
      pending.finish(
        new TaskPublishError('closed', pending.message.taskId, `task queue closed before the broker accepted task ${pending.message.taskId}`),
      );
    }
  }

  private setState(to: AmqpTaskQueueState, reason: string, meta: Record<string, unknown> = {}): void {
    const from = this.stateValue;
    this.stateValue = to;
    const line = `AMQP task queue ${from} -> ${to}: ${reason}`;
    const fields = { queue: this.options.queueName, dialect: this.dialect.name, ...meta };
    if (to === 'reconnecting') this.logger.warn(line, fields);
    else this.logger.info(line, fields);
  }
}
