import type { Delivery as RheaDelivery, EventContext, Message, Receiver } from 'rhea';
import { TaskMessage } from '../message';
import type { BrokerConsumer } from '../broker-task-queue';
import { dispatchDelivery } from '../dispatch';
import { ConsumeOptions, DeliveryHandler } from '../port';
import { AmqpDialect } from './dialects/dialect';
import { decodeTaskMessage } from './envelope';
import { describeAmqpError } from './errors';
import { LevelLogger } from '@shipdeck/logging';
import { CompiledAmqpOptions } from './options';
import { Wire } from './wire';

/** What a consumer needs from the queue that owns it. */
export interface ConsumerHost {
  readonly options: CompiledAmqpOptions;
  readonly dialect: AmqpDialect;
  /** Drops the wire and reconnects (a consumer link the broker ended is recovered that way). */
  connectionFailed(wire: Wire, reason: string): void;
  forget(consumer: AmqpConsumer): void;
}

/**
 * `active` → `paused` (no more credit; held deliveries go on) → `closed` (link closed). `active`
 * may also go straight to `closed`; nothing goes back.
 */
export type AmqpConsumerState = 'active' | 'paused' | 'closed';

/** The consumer link on one wire. */
interface ConsumerLink {
  readonly wire: Wire;
  readonly receiver: Receiver;
  /** The broker attached the link (credit can be granted). */
  open: boolean;
  /** We are closing the link (its close is not a failure). */
  closing: boolean;
  onClosed?: () => void;
  onDrained?: () => void;
  /** Ends the wait of `attach()` without an attach (the wire or the consumer went away first). */
  abandonAttach?: () => void;
}

/**
 * One consumer of the task queue with capacity-based prefetch: the link never has more credit
 * than free slots, a slot is held from delivery until the handler's promise settles, and a
 * delivery beyond capacity (RabbitMQ 3.10 can overshoot the credit) is released at once. The
 * link is re-attached on every new wire with credit for the slots free at that moment.
 */
export class AmqpConsumer implements BrokerConsumer<Wire> {
  private stateValue: AmqpConsumerState = 'active';
  /** Deliveries given to the handler whose promise has not settled (from any wire). */
  private held = 0;
  private link?: ConsumerLink;
  private closing?: Promise<void>;
  private readonly logger: LevelLogger;

  constructor(
    private readonly host: ConsumerHost,
    readonly id: string,
    private readonly consumeOptions: ConsumeOptions,
    private readonly handler: DeliveryHandler,
  ) {
    this.logger = host.options.logger;
  }

  get state(): AmqpConsumerState {
    return this.stateValue;
  }

  /** Deliveries the handler holds now (never more than the capacity). */
  get heldCount(): number {
    return this.held;
  }

  /**
   * Opens the consumer link on a new wire. Resolves when the broker attached it, or when the
   * wire failed before (the next wire retries); rejects when the broker refused the link.
   */
  attach(wire: Wire): Promise<void> {
    if (this.stateValue !== 'active') return Promise.resolve();
    const { queueName } = this.host.options;
    const receiver = wire.connection.open_receiver({
      name: `${this.id}-w${wire.id}`,
      source: this.host.dialect.source(queueName, this.consumeOptions.selectorConfigHash),
      credit_window: 0,
      autoaccept: false,
      // Unsettled at the sender, settled first at the receiver: at-least-once.
      snd_settle_mode: 0,
      rcv_settle_mode: 0,
    });
    const link: ConsumerLink = { wire, receiver, open: false, closing: false };
    this.link = link;
    return new Promise<void>((resolve, reject) => {
      link.abandonAttach = resolve;
      receiver.on('receiver_open', () => {
        link.open = true;
        // A new link starts without credit: grant every free slot, on every (re)attach.
        this.topUp(link);
        this.logger.debug('consumer link attached', { consumer: this.id, wire: wire.id, credit: creditOf(link.receiver) });
        resolve();
      });
      receiver.on('message', (context: EventContext) => this.onMessage(link, context.delivery, context.message));
      receiver.on('receiver_drained', () => link.onDrained?.());
      // Handled with the close below; listening keeps rhea from raising it on the container.
      receiver.on('receiver_error', () => undefined);
      receiver.on('receiver_close', () => {
        if (link.closing || wire.dropped) {
          link.onClosed?.();
          return;
        }
        const reason = `consumer link closed by the broker (${describeAmqpError(receiver.error)})`;
        if (!link.open) {
          // A refused attach: the queue is missing or not ours to read. Fail this consume.
          this.link = undefined;
          reject(new Error(`the broker refused a consumer link to queue "${queueName}": ${describeAmqpError(receiver.error)}`));
        }
        this.host.connectionFailed(wire, reason);
      });
    });
  }

  /** The wire this consumer's link was on is gone; its deliveries can no longer be settled. */
  connectionLost(wire: Wire): void {
    const link = this.link;
    if (link?.wire !== wire) return;
    this.link = undefined;
    link.abandonAttach?.();
    link.onClosed?.();
    link.onDrained?.();
  }

  async pause(): Promise<void> {
    if (this.stateValue !== 'active') return;
    this.stateValue = 'paused';
    this.logger.info('consumer active -> paused', { consumer: this.id, held: this.held });
    const link = this.link;
    if (!link || !this.usable(link) || !link.open) return;
    // Drain: the broker sends what the remaining credit allows at once (released on arrival,
    // the consumer is paused) and then reports the credit used up.
    await this.waitFor(link, 'onDrained', () => link.receiver.drain_credit());
  }

  close(): Promise<void> {
    this.closing ??= this.closeNow();
    return this.closing;
  }

  private async closeNow(): Promise<void> {
    const from = this.stateValue;
    this.stateValue = 'closed';
    this.logger.info(`consumer ${from} -> closed`, { consumer: this.id, held: this.held });
    this.host.forget(this);
    const link = this.link;
    this.link = undefined;
    link?.abandonAttach?.();
    if (!link || link.wire.dropped) return;
    link.closing = true;
    // Unsettled deliveries of a closed link go back to the queue; the handler's late accept or
    // hand back is then a no-op.
    await this.waitFor(link, 'onClosed', () => link.receiver.close());
  }

  private waitFor(link: ConsumerLink, event: 'onClosed' | 'onDrained', action: () => void): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        link[event] = undefined;
        resolve();
      };
      const timer = setTimeout(() => {
        this.logger.debug(`consumer link: no ${event === 'onClosed' ? 'detach' : 'drain'} answer in time`, { consumer: this.id });
        done();
      }, this.host.options.closeTimeoutMs);
      link[event] = done;
      try {
        action();
      } catch (error) {
        this.logger.debug('consumer link action failed', { consumer: this.id, error: describeAmqpError(error) });
        done();
      }
    });
  }

  private onMessage(link: ConsumerLink, delivery: RheaDelivery | undefined, amqp: Message | undefined): void {
    if (!delivery || !amqp) return;
    // A delivery of a link that is no longer this consumer's: the broker redelivers it.
    if (this.link !== link || !this.usable(link)) return;
    if (this.stateValue !== 'active') {
      delivery.release();
      this.logger.debug('delivery after pause released', { consumer: this.id, messageId: String(amqp.message_id) });
      return;
    }
    if (this.held >= this.consumeOptions.capacity) {
      // Plain released (not the dialect's hand back): the handler never saw it, so it must not
      // count as a failed delivery attempt.
      delivery.release();
      this.logger.warn('broker delivered beyond the granted credit; delivery released', {
        consumer: this.id,
        held: this.held,
        capacity: this.consumeOptions.capacity,
        messageId: String(amqp.message_id),
      });
      return;
    }
    const decoded = decodeTaskMessage(amqp);
    if (!decoded.ok) {
      delivery.accept();
      this.logger.error('malformed task message dropped', { consumer: this.id, messageId: String(amqp.message_id), reason: decoded.reason });
      this.topUp(link);
      return;
    }
    if (amqp.first_acquirer === false || (amqp.delivery_count ?? 0) > 0) this.host.options.metrics.taskMessageRedelivered();
    this.held++;
    this.dispatch(link, delivery, decoded.message);
    // The last credit may be used while slots are free (e.g. after a re-attach).
    this.topUp(link);
  }

  private dispatch(link: ConsumerLink, delivery: RheaDelivery, message: TaskMessage): void {
    dispatchDelivery(this.handler, message, {
      consumerId: this.id,
      logger: this.logger,
      settle: (how) => this.settle(link, delivery, message, how),
      unsettled: { how: 'release', logged: 'released' },
      ended: () => {
        this.held--;
        if (this.link) this.topUp(this.link);
      },
    });
  }

  private settle(link: ConsumerLink, delivery: RheaDelivery, message: TaskMessage, how: 'accept' | 'handBack' | 'release'): void {
    if (!this.usable(link)) {
      this.logger.debug(`${how} of a delivery from a link that is gone skipped; the broker redelivers it`, {
        consumer: this.id,
        taskId: message.taskId,
      });
      return;
    }
    try {
      if (how === 'accept') delivery.accept();
      else if (how === 'handBack') this.host.dialect.handBack(delivery);
      else delivery.release();
    } catch (error) {
      this.logger.debug(`${how} of a delivery failed; the broker redelivers it`, { consumer: this.id, taskId: message.taskId, error: describeAmqpError(error) });
    }
  }

  /** Whether deliveries of this link can still be settled. */
  private usable(link: ConsumerLink): boolean {
    return !link.wire.dropped && !link.closing;
  }

  /**
   * Raises the link's credit to the number of free slots, once the credit granted before is
   * used up. Absolute rather than +1 per freed slot, so a delivery that arrived without credit
   * (an overshoot) or a dropped malformed message cannot make the count drift. Only at zero:
   * RabbitMQ 3.10 takes a flow's link-credit as the new credit without subtracting the
   * transfers already on their way, so each extra flow while credit is left lets it overshoot.
   */
  private topUp(link: ConsumerLink): void {
    if (this.stateValue !== 'active' || !link.open || !this.usable(link)) return;
    const credit = creditOf(link.receiver);
    const missing = this.consumeOptions.capacity - this.held - credit;
    if (credit === 0 && missing > 0) link.receiver.add_credit(missing);
  }
}

/** The credit the link has left (rhea keeps it, its typings do not show it). */
function creditOf(receiver: Receiver): number {
  const credit = (receiver as unknown as { credit?: unknown }).credit;
  return typeof credit === 'number' ? credit : 0;
}
