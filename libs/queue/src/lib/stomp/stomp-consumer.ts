import type { MessageFrame, Subscription } from 'stompit';
import { describeAmqpError } from '../amqp/errors';
import type { LevelLogger } from '@shipdeck/logging';
import { TaskMessage } from '../message';
import type { BrokerConsumer } from '../broker-task-queue';
import { dispatchDelivery } from '../dispatch';
import { ConsumeOptions, DeliveryHandler } from '../port';
import { decodeStompBody } from './envelope';
import type { CompiledStompOptions } from './options';
import type { StompSession } from './stomp-task-queue';

/** What a consumer needs from the queue that owns it. */
export interface StompConsumerHost {
  readonly options: CompiledStompOptions;
  readonly logger: LevelLogger;
  connectionFailed(session: StompSession, reason: string): void;
  /** The connection in use now; undefined while reconnecting. */
  currentConnection(): StompSession | undefined;
  forget(consumer: StompConsumer): void;
}

/** `active` → `paused` (no new subscriptions; held deliveries go on) → `closed`. Nothing goes back. */
export type StompConsumerState = 'active' | 'paused' | 'closed';

/**
 * One slot's subscription. It asks Artemis for a one-byte consumer window, so the broker sends
 * it one message and then nothing until that message is acknowledged: at most one unacknowledged
 * message per subscription.
 */
interface Slot {
  readonly session: StompSession;
  readonly subscription: Subscription;
  /** A message arrived: the slot is taken until the handler ends. */
  taken: boolean;
  /** UNSUBSCRIBE sent: later frames of it are dropped by stompit and returned by the broker. */
  closed: boolean;
}

/**
 * A consumer with capacity N over STOMP on Artemis. STOMP has no message-count credit, and on
 * Artemis a NACK *discards* the message (it is treated as an ACK), so both the capacity bound and
 * the hand back are built from subscriptions: every free slot has its own subscription with a
 * one-byte window (one message at a time); the message's arrival takes the slot; accepting it
 * sends ACK and at once UNSUBSCRIBE (so the window the ACK reopens delivers nothing more to this
 * worker), handing it back sends only UNSUBSCRIBE, which returns the unacknowledged message to
 * the queue for another consumer. When the handler ends, a new subscription fills the free slot.
 * So the handler never holds more than N deliveries, acknowledged or not.
 */
export class StompConsumer implements BrokerConsumer<StompSession> {
  private stateValue: StompConsumerState = 'active';
  private held = 0;
  private readonly slots = new Set<Slot>();
  private subscriptionCount = 0;
  private closing?: Promise<void>;
  private readonly logger: LevelLogger;

  constructor(
    private readonly host: StompConsumerHost,
    readonly id: string,
    private readonly consumeOptions: ConsumeOptions,
    private readonly selector: string | undefined,
    private readonly handler: DeliveryHandler,
  ) {
    this.logger = host.logger;
  }

  get state(): StompConsumerState {
    return this.stateValue;
  }

  /** Deliveries the handler holds now (never more than the capacity). */
  get heldCount(): number {
    return this.held;
  }

  /** Subscribes for every free slot on a (new) session. */
  attach(session: StompSession): void {
    if (this.stateValue !== 'active' || session.dropped) return;
    const free = this.consumeOptions.capacity - this.held - this.openSlots(session);
    for (let i = 0; i < free; i++) this.openSlot(session);
  }

  /** The session is gone: its subscriptions with it; held deliveries can no longer be settled. */
  connectionLost(session: StompSession): void {
    for (const slot of [...this.slots]) {
      if (slot.session === session && !slot.taken) this.slots.delete(slot);
    }
  }

  pause(): Promise<void> {
    if (this.stateValue !== 'active') return Promise.resolve();
    this.setState('paused');
    return this.closeFreeSlots();
  }

  close(): Promise<void> {
    this.closing ??= (async () => {
      if (this.stateValue === 'active') await this.closeFreeSlots();
      this.setState('closed');
      // Held deliveries not settled yet go back to the queue with their subscriptions.
      for (const slot of this.slots) this.unsubscribe(slot);
      this.slots.clear();
      this.host.forget(this);
    })();
    return this.closing;
  }

  private openSlots(session: StompSession): number {
    let open = 0;
    for (const slot of this.slots) if (slot.session === session && !slot.taken && !slot.closed) open++;
    return open;
  }

  private openSlot(session: StompSession): void {
    const headers: Record<string, string> = {
      id: `${this.id}-s${++this.subscriptionCount}`,
      destination: this.host.options.queueName,
      'destination-type': 'ANYCAST',
      ack: 'client-individual',
      // Artemis counts this window in bytes and returns a message's size on its ACK: one byte
      // means one message at a time.
      'consumer-window-size': '1',
    };
    if (this.selector !== undefined) headers.selector = this.selector;
    let slot: Slot | undefined = undefined;
    try {
      const subscription = session.client.subscribe(headers, (error, frame) => {
        if (error || !slot) return; // a session failure: handled by the queue
        this.onMessage(slot, frame);
      });
      slot = { session, subscription, taken: false, closed: false };
      this.slots.add(slot);
    } catch (error) {
      this.host.connectionFailed(session, `subscribe failed: ${describeAmqpError(error)}`);
    }
  }

  private onMessage(slot: Slot, frame: MessageFrame): void {
    if (slot.taken || slot.closed || slot.session.dropped) {
      // Not for us any more: read it off the stream; the broker returns it with the subscription.
      frame.resume();
      return;
    }
    slot.taken = true;
    this.held++;
    frame.readString('utf-8', (error, body) => {
      if (error || body === undefined) {
        this.slotEnded(slot, 'unsubscribe');
        return;
      }
      const decoded = decodeStompBody(body);
      if (!decoded.ok) {
        // Acknowledged so that it does not come back; there is nothing a worker can do with it.
        this.logger.error('malformed task message dropped', { consumer: this.id, reason: decoded.reason, messageId: frame.headers['message-id'] });
        this.settle(slot, frame, 'accept');
        this.slotEnded(slot);
        return;
      }
      if (frame.headers.redelivered === 'true') this.host.options.metrics.taskMessageRedelivered();
      this.deliver(slot, frame, decoded.message);
    });
  }

  private deliver(slot: Slot, frame: MessageFrame, message: TaskMessage): void {
    dispatchDelivery(this.handler, message, {
      consumerId: this.id,
      logger: this.logger,
      settle: (how) => this.settle(slot, frame, how),
      unsettled: { how: 'handBack', logged: 'handed back' },
      ended: () => this.slotEnded(slot),
    });
  }

  /** ACK + UNSUBSCRIBE (accept) or UNSUBSCRIBE alone (hand back: the broker requeues the unacknowledged message). */
  private settle(slot: Slot, frame: MessageFrame, how: 'accept' | 'handBack'): void {
    if (slot.session.dropped || slot.closed) {
      this.logger.debug(`${how} of a delivery from a connection that is gone skipped; the broker redelivers it`, { consumer: this.id });
      return;
    }
    try {
      if (how === 'accept') slot.session.client.ack(frame);
    } catch (error) {
      this.logger.debug(`${how} failed; the broker redelivers the message`, { consumer: this.id, error: describeAmqpError(error) });
    }
    this.unsubscribe(slot);
  }

  /**
   * The handler is done with the slot's delivery: free the slot and subscribe for it again, on
   * the connection in use now (the delivery may come from one that has been replaced since).
   */
  private slotEnded(slot: Slot, also?: 'unsubscribe'): void {
    if (also) this.unsubscribe(slot);
    this.slots.delete(slot);
    this.held--;
    const session = this.host.currentConnection();
    if (this.stateValue === 'active' && session && !session.dropped && this.held + this.openSlots(session) < this.consumeOptions.capacity) {
      this.openSlot(session);
    }
  }

  private unsubscribe(slot: Slot): void {
    if (slot.closed) return;
    slot.closed = true;
    if (slot.session.dropped) return;
    try {
      slot.subscription.unsubscribe();
    } catch (error) {
      this.logger.debug('unsubscribe failed', { consumer: this.id, error: describeAmqpError(error) });
    }
  }

  /**
   * Unsubscribes every free slot and waits (bounded) until the broker confirmed: after that no
   * new message reaches this consumer. stompit forgets a subscription when the broker's RECEIPT
   * for its UNSUBSCRIBE arrives, and offers no event for it, so this checks its subscription
   * table until then.
   */
  private async closeFreeSlots(): Promise<void> {
    const free = [...this.slots].filter((slot) => !slot.taken);
    for (const slot of free) {
      this.unsubscribe(slot);
      this.slots.delete(slot);
    }
    const deadline = Date.now() + this.host.options.closeTimeoutMs;
    const pending = () =>
      free.some((slot) => {
        if (slot.session.dropped) return false;
        const client = slot.session.client as unknown as { getSubscription(id: string | number): unknown };
        return client.getSubscription(slot.subscription.getId()) !== undefined;
      });
    while (pending() && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
    if (pending()) this.logger.warn('the broker did not confirm an unsubscribe in time', { consumer: this.id });
  }

  private setState(to: StompConsumerState): void {
    const from = this.stateValue;
    this.stateValue = to;
    this.logger.info(`consumer ${from} -> ${to}`, { consumer: this.id, held: this.held });
  }
}
