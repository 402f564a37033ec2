import { connect, type Client, type MessageFrame, type StompHeaders } from 'stompit';
import { NotReadyError } from '@shipdeck/errors';
import { configHashSelector } from '../amqp/dialects/artemis';
import { describeAmqpError } from '../amqp/errors';
import { BrokerConnection, BrokerTaskQueue, BrokerTaskQueueState } from '../broker-task-queue';
import { TaskMessage } from '../message';
import { ConsumeOptions, DeliveryHandler, TaskQueue } from '../port';
import { taskMessageBody, taskMessageHeaders } from './envelope';
import { compileStompOptions, CompiledStompOptions, StompTaskQueueOptions } from './options';
import { StompConsumer } from './stomp-consumer';

/** See {@link BrokerTaskQueueState}. */
export type StompTaskQueueState = BrokerTaskQueueState;

/** A task message as a STOMP SEND: its headers and body. */
export interface StompFrame {
  readonly headers: StompHeaders;
  readonly body: string;
}

/**
 * One STOMP connection; after any failure it is dropped whole and a new one made. Its sends in
 * flight wait for the broker's RECEIPT (keyed by the pending send itself).
 */
export interface StompSession extends BrokerConnection<StompFrame> {
  readonly client: Client;
  /**
   * Where MESSAGE frames go, by subscription id: the session routes them itself, not stompit.
   * A subscription leaves the table when its UNSUBSCRIBE is sent; a frame for one not in it is
   * read off the stream and left to the broker (see {@link routeMessage}).
   */
  readonly subscriptions: Map<string, (frame: MessageFrame) => void>;
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
export class StompTaskQueue extends BrokerTaskQueue<CompiledStompOptions, StompSession, StompFrame, StompConsumer> {
  constructor(options: CompiledStompOptions) {
    super(options, 'STOMP', 'session');
  }

  protected encode(message: TaskMessage): StompFrame {
    return { headers: taskMessageHeaders(this.options.queueName, message), body: taskMessageBody(message) };
  }

  protected createConsumer(id: string, options: ConsumeOptions, handler: DeliveryHandler): StompConsumer {
    const selector = options.selectorConfigHash === undefined ? undefined : configHashSelector(options.selectorConfigHash);
    return new StompConsumer(this, id, options, selector, handler);
  }

  /**
   * The broker refuses this user the right to send (e.g. a worker's credentials): resending
   * would be refused again, so the waiting publishes fail, not retryable.
   */
  protected override refusesSending(reason: string): boolean {
    return SEND_REFUSED.test(reason);
  }

  /** Opens a connection and resolves once the broker answered CONNECTED. */
  protected openConnection(id: number): Promise<StompSession> {
    const { endpoint, connectTimeoutMs, heartbeatMs } = this.options;
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
          this.connectionFailed(session, reason);
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
          const opened: StompSession = { id, client, dropped: false, inFlight: new Map(), subscriptions: new Map() };
          session = opened;
          // Set before CONNECTED's frame ends, so stompit reads no MESSAGE before it.
          client.setCommandHandler('MESSAGE', (frame, beforeSendResponse) => {
            this.routeMessage(opened, frame);
            beforeSendResponse();
          });
          resolve(opened);
        },
      );
      // After CONNECTED every error (an ERROR frame, a socket error, missed heart-beats) ends the session.
      client.on('error', (error: Error) => fail(describeStompError(error)));
      client.on('end', () => fail('connection ended by the broker'));
    });
  }

  /**
   * Hands a MESSAGE to its subscription's consumer. A frame for a subscription already
   * unsubscribed is a delivery the broker took back when it closed the subscription: it is read off
   * the stream and dropped, never acknowledged. Artemis 2.40 even writes such a frame *after* the
   * RECEIPT of the UNSUBSCRIBE when a delivery races it (the delivery's frame goes through Netty's
   * task queue from a queue thread, the RECEIPT straight from the connection's event loop);
   * stompit, which forgets a subscription at that RECEIPT, would end the connection for it
   * ("invalid subscription id").
   */
  private routeMessage(session: StompSession, frame: MessageFrame): void {
    const deliver = session.subscriptions.get(frame.headers.subscription ?? '');
    if (deliver) return deliver(frame);
    this.logger.debug('message for a subscription already closed left to the broker', {
      session: session.id,
      subscription: frame.headers.subscription,
      messageId: frame.headers['message-id'],
    });
    frame.resume();
  }

  protected closeConnection(session: StompSession): Promise<void> {
    session.dropped = true;
    return disconnect(session, this.options.closeTimeoutMs);
  }

  protected dropConnection(session: StompSession): void {
    session.dropped = true;
    session.client.destroy();
  }

  protected connected(): void {
    this.flush();
  }

  /** Sends what waits; each send asks for a RECEIPT. */
  protected flush(): void {
    const session = this.connection;
    if (!session || session.dropped) return;
    this.sendWaiting(
      session,
      () => true,
      (pending) => {
        const frame = session.client.send({ ...pending.encoded.headers }, { onReceipt: () => this.confirmed(session, pending)?.finish() });
        frame.write(pending.encoded.body);
        frame.end();
        return pending;
      },
    );
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
