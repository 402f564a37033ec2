import type { MessageFrame } from 'stompit';
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
  /** The subscription's id, unique on the connection. */
  readonly id: string;
  /** A message arrived: the slot is taken until the handler ends. */
  taken: boolean;
  /**
   * UNSUBSCRIBE sent: later frames of it — even after the broker's RECEIPT — are dropped by the
   * session; the broker takes those messages back with the subscription.
   */
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
 *
 * An UNSUBSCRIBE can race a delivery to the same subscription: the window an ACK reopens, or a
 * free slot's window when it is closed. The broker then takes that message back into the queue
 * with the subscription, and the frame it wrote may arrive here after the UNSUBSCRIBE — on
 * Artemis even after its RECEIPT. Such a frame is read off the stream and never acknowledged
 * (an ACK for a subscription the broker has closed is answered with ERROR); the session routes
 * MESSAGE frames itself so that it is not a protocol error ({@link StompSession.subscriptions}).
 */
export class StompConsumer implements BrokerConsumer<StompSession> {
  private stateValue: StompConsumerState = 'active';
  private held = 0;
  private readonly slots = new Set<Slot>();
  /** UNSUBSCRIBEs the broker has not confirmed yet, with what to call when it has (or the connection is gone). */
  private readonly unconfirmed = new Map<Slot, () => void>();
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
    for (const [slot, confirm] of this.unconfirmed) if (slot.session === session) confirm();
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
      for (const slot of this.slots) void this.unsubscribe(slot);
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
    const id = `${this.id}-s${++this.subscriptionCount}`;
    const headers: Record<string, string> = {
      id,
      destination: this.host.options.queueName,
      'destination-type': 'ANYCAST',
      ack: 'client-individual',
      // Artemis counts this window in bytes and returns a message's size on its ACK: one byte
      // means one message at a time.
      'consumer-window-size': '1',
    };
    if (this.selector !== undefined) headers.selector = this.selector;
    const slot: Slot = { session, id, taken: false, closed: false };
    session.subscriptions.set(id, (frame) => this.onMessage(slot, frame));
    this.slots.add(slot);
    try {
      session.client.sendFrame('SUBSCRIBE', headers).end();
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
    void this.unsubscribe(slot);
  }

  /**
   * The handler is done with the slot's delivery: free the slot and subscribe for it again, on
   * the connection in use now (the delivery may come from one that has been replaced since).
   */
  private slotEnded(slot: Slot, also?: 'unsubscribe'): void {
    if (also) void this.unsubscribe(slot);
    this.slots.delete(slot);
    this.held--;
    const session = this.host.currentConnection();
    if (this.stateValue === 'active' && session && !session.dropped && this.held + this.openSlots(session) < this.consumeOptions.capacity) {
      this.openSlot(session);
    }
  }

  /**
   * Sends UNSUBSCRIBE (once) and stops routing the subscription's frames to the slot; resolves when
   * the broker's RECEIPT for it arrived, or the connection is gone.
   */
  private unsubscribe(slot: Slot): Promise<void> {
    if (slot.closed) return Promise.resolve();
    slot.closed = true;
    slot.session.subscriptions.delete(slot.id);
    if (slot.session.dropped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const confirm = () => {
        this.unconfirmed.delete(slot);
        resolve();
      };
      this.unconfirmed.set(slot, confirm);
      try {
        slot.session.client.sendFrame('UNSUBSCRIBE', { id: slot.id }, { onReceipt: confirm }).end();
      } catch (error) {
        this.logger.debug('unsubscribe failed', { consumer: this.id, error: describeAmqpError(error) });
        confirm();
      }
    });
  }

  /**
   * Unsubscribes every free slot and waits (bounded) until the broker confirmed: after that no
   * new message reaches this consumer.
   */
  private async closeFreeSlots(): Promise<void> {
    const free = [...this.slots].filter((slot) => !slot.taken);
    for (const slot of free) this.slots.delete(slot);
    const confirmed = Promise.all(free.map((slot) => this.unsubscribe(slot))).then(() => true);
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), this.host.options.closeTimeoutMs)));
    const inTime = await Promise.race([confirmed, late]);
    clearTimeout(timer);
    if (!inTime) this.logger.warn('the broker did not confirm an unsubscribe in time', { consumer: this.id });
  }

  private setState(to: StompConsumerState): void {
    const from = this.stateValue;
    this.stateValue = to;
    this.logger.info(`consumer ${from} -> ${to}`, { consumer: this.id, held: this.held });
  }
}
