import type { Connection, Container, Delivery as RheaDelivery, EventContext, Message, Sender } from 'rhea';
import { NotReadyError } from '@shipdeck/errors';
import type { BrokerConnection, PendingSend } from '../broker-task-queue';
import { describeAmqpError } from './errors';
import { CompiledAmqpOptions } from './options';

/**
 * One AMQP connection with its single session and the links on it. After any failure (socket,
 * connection, session or link ended by the broker) the whole wire is dropped and a new one made:
 * delivery ids, credit and unsettled state all die with a session, so nothing of it is reused.
 */
export interface Wire extends BrokerConnection<Message> {
  readonly connection: Connection;
  sender?: Sender;
  /** The broker attached the sender. */
  senderReady: boolean;
  /** Sends on this wire that the broker has not settled yet, by their rhea delivery. */
  readonly inFlight: Map<RheaDelivery, PendingSend<Message>>;
  /** Called once when the connection is gone after we closed it. */
  onClosed?: () => void;
}

/** The connection-level events after which a wire is unusable. */
const FAILURE_EVENTS = [
  'disconnected',
  'connection_close',
  'connection_error',
  'protocol_error',
  'error',
  'session_close',
  'session_error',
  'sender_close',
  'sender_error',
] as const;

/**
 * Opens a connection and resolves once the broker's open frame arrived (rhea's own reconnect is
 * off: the adapter replaces whole wires). `onFailure` is called at most once, for a failure
 * after the open; a failure before it rejects the promise instead.
 */
export function openWire(
  container: Container,
  options: CompiledAmqpOptions,
  hostname: string | undefined,
  id: number,
  onFailure: (wire: Wire, reason: string) => void,
): Promise<Wire> {
  const { endpoint } = options;
  const connection = container.connect({
    // The container id is unique per queue instance: it makes connection names in traces unique too.
    id: `${container.id}-w${id}`,
    transport: endpoint.transport,
    host: endpoint.host,
    port: endpoint.port,
    ...(endpoint.transport === 'tls' ? { servername: endpoint.host } : {}),
    ...(endpoint.username === undefined ? {} : { username: endpoint.username, password: endpoint.password ?? '' }),
    ...(hostname === undefined ? {} : { hostname }),
    reconnect: false,
    idle_time_out: options.idleTimeoutMs,
    properties: { product: 'shipdeck' },
  } as Parameters<Container['connect']>[0]);
  const wire: Wire = { id, connection, senderReady: false, inFlight: new Map(), dropped: false };
  return new Promise<Wire>((resolve, reject) => {
    let opened = false;
    const timer = setTimeout(() => fail(`no answer within ${options.connectTimeoutMs} ms`), options.connectTimeoutMs);
    const fail = (reason: string) => {
      if (wire.dropped) return;
      if (!opened) {
        clearTimeout(timer);
        wire.dropped = true;
        discardWire(wire, options.closeTimeoutMs);
        reject(new NotReadyError(`AMQP broker at ${endpoint.redactedUrl} not reachable: ${reason}`));
        return;
      }
      onFailure(wire, reason);
    };
    connection.on('connection_open', () => {
      opened = true;
      clearTimeout(timer);
      resolve(wire);
    });
    for (const event of FAILURE_EVENTS) {
      connection.on(event, (context: EventContext | Error) => {
        if (wire.dropped) {
          if (event === 'disconnected' || event === 'connection_close') wire.onClosed?.();
          return;
        }
        fail(`${event.replace('_', ' ')} (${describeAmqpError(reasonOf(event, context))})`);
      });
    }
  });
}

/** Closes a wire that is still healthy and waits (bounded) for the broker to confirm. */
export function closeWire(wire: Wire, timeoutMs: number): Promise<void> {
  return shutWire(wire, timeoutMs);
}

/** Drops a failed wire: asks the broker to close, and cuts the socket if it does not answer. */
export function discardWire(wire: Wire, timeoutMs: number): void {
  void shutWire(wire, timeoutMs);
}

function shutWire(wire: Wire, timeoutMs: number): Promise<void> {
  return new Promise<void>((resolve) => {
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      wire.onClosed = undefined;
      abortSocket(wire);
      resolve();
    };
    // Only bounds the wait for the broker's answer: it must not keep the process alive by itself.
    const timer = setTimeout(done, timeoutMs).unref();
    wire.dropped = true;
    const socket = socketOf(wire);
    if (!socket || socket.destroyed) {
      // Nothing left to close politely (the connection died, or never got a socket).
      try {
        wire.connection.close();
      } finally {
        done();
      }
      return;
    }
    // Once the broker confirmed the close, rhea ends the socket itself and, seeing it end, clears
    // its idle-time-out timers; destroying the socket first would leave them keeping the process alive.
    wire.onClosed = () => {
      const socket = socketOf(wire);
      if (!socket || socket.destroyed) done();
      else socket.once('close', done);
    };
    try {
      wire.connection.close();
    } catch {
      done();
    }
  });
}

interface RheaSocket {
  destroyed?: boolean;
  destroy?: () => void;
  once(event: 'close', listener: () => void): void;
}

function socketOf(wire: Wire): RheaSocket | undefined {
  return (wire.connection as { socket?: RheaSocket }).socket;
}

/**
 * Cuts a socket the broker did not close. Through rhea's `abort_socket` when it has one: it also
 * runs rhea's disconnect handling, which clears the heartbeat timers a bare destroy would leave.
 */
function abortSocket(wire: Wire): void {
  const socket = socketOf(wire);
  if (!socket || socket.destroyed) return;
  const connection = wire.connection as { abort_socket?: (socket: RheaSocket) => void };
  if (typeof connection.abort_socket === 'function') connection.abort_socket(socket);
  else socket.destroy?.();
}

function reasonOf(event: string, context: EventContext | Error): unknown {
  if (context instanceof Error) return context;
  if (event.startsWith('session')) return context.session?.error ?? context.error;
  if (event.startsWith('sender')) return context.sender?.error ?? context.error;
  if (event === 'connection_close' || event === 'connection_error') return context.connection?.error ?? context.error;
  return context.error;
}
