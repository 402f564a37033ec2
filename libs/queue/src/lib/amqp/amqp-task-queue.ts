import { randomUUID } from 'node:crypto';
import { create_container, type Container, type EventContext, type Message, type SenderOptions } from 'rhea';
import { BrokerTaskQueue, BrokerTaskQueueState } from '../broker-task-queue';
import { TaskMessage } from '../message';
import { ConsumeOptions, DeliveryHandler, TaskQueue } from '../port';
import { AmqpConsumer, ConsumerHost } from './amqp-consumer';
import { AmqpDialect } from './dialects/dialect';
import { brokerIdentity, detectDialect, dialectByName } from './dialects/detect';
import { encodeTaskMessage } from './envelope';
import { describeAmqpError, TaskPublishError } from './errors';
import { AmqpTaskQueueOptions, CompiledAmqpOptions, compileAmqpOptions } from './options';
import { closeWire, discardWire, openWire, Wire } from './wire';

/** See {@link BrokerTaskQueueState}. */
export type AmqpTaskQueueState = BrokerTaskQueueState;

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
export class AmqpTaskQueue extends BrokerTaskQueue<CompiledAmqpOptions, Wire, Message, AmqpConsumer> implements ConsumerHost {
  private readonly container: Container;
  /**
   * Whether this queue publishes: the publishing link is opened at the first publish() and on
   * every wire after it, not before, so that a worker whose user may only consume (Artemis roles)
   * does not have each of its connections ended by a refused sender.
   */
  private publishes = false;

  constructor(
    options: CompiledAmqpOptions,
    readonly dialect: AmqpDialect,
  ) {
    super(options, 'AMQP', 'wire');
    this.container = create_container({ id: `shipdeck-${this.instanceId}` });
    // Link and session errors are handled where they happen; this only keeps rhea from
    // throwing an unhandled 'error' event for one nobody listens to.
    this.container.on('error', (error: unknown) => this.logger.debug('AMQP container error', { error: describeAmqpError(error) }));
  }

  /** Prepares the broker for the dialect (e.g. declares the queue). */
  protected override async prepare(): Promise<void> {
    const { url, endpoint, queueName, logger } = this.options;
    await this.dialect.prepare({ url, endpoint, queueName, logger });
  }

  protected override publishing(): void {
    if (this.publishes) return;
    this.publishes = true;
    if (this.connection && !this.connection.dropped) this.openSender(this.connection);
  }

  protected override stateFields(): Record<string, unknown> {
    return { dialect: this.dialect.name };
  }

  protected encode(message: TaskMessage): Message {
    return encodeTaskMessage(message);
  }

  protected createConsumer(id: string, options: ConsumeOptions, handler: DeliveryHandler): AmqpConsumer {
    if (options.selectorConfigHash !== undefined && !this.dialect.honoursSelector) {
      this.logger.debug(`the ${this.dialect.name} dialect cannot filter by configuration hash; the handler checks it`);
    }
    return new AmqpConsumer(this, id, options, handler);
  }

  protected openConnection(id: number): Promise<Wire> {
    return openWire(this.container, this.options, this.dialect.openHostname(this.options.endpoint), id, (wire, reason) =>
      this.connectionFailed(wire, reason),
    );
  }

  protected closeConnection(wire: Wire): Promise<void> {
    return closeWire(wire, this.options.closeTimeoutMs);
  }

  protected dropConnection(wire: Wire): void {
    discardWire(wire, this.options.closeTimeoutMs);
  }

  /** A new wire: the publishing link (once this queue publishes) opens on it. */
  protected connected(wire: Wire): void {
    if (this.publishes) this.openSender(wire);
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
    if (wire.dropped || this.connection !== wire) return;
    if ((error as { condition?: unknown } | undefined)?.condition !== 'amqp:unauthorized-access') {
      this.connectionFailed(wire, `publishing link closed by the broker (${describeAmqpError(error)})`);
      return;
    }
    wire.sender = undefined;
    wire.senderReady = false;
    this.publishes = false;
    this.refuseSends(this.takeInFlight(wire), describeAmqpError(error));
  }

  /** Sends what waits, as far as the broker's credit allows. */
  protected flush(): void {
    const wire = this.connection;
    const sender = wire?.sender;
    if (!wire || !sender || !wire.senderReady || wire.dropped) return;
    this.sendWaiting(
      wire,
      () => sender.sendable(),
      (pending) => sender.send(pending.encoded),
    );
  }

  private sendSettled(wire: Wire, context: EventContext, failure?: 'rejected' | 'released' | 'modified'): void {
    const delivery = context.delivery;
    const pending = delivery && this.confirmed(wire, delivery);
    if (!delivery || !pending) return;
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
}
