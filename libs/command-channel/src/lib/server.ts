import { randomUUID } from 'node:crypto';
import { Server, Socket, createServer as createNetServer } from 'node:net';
import { TLSSocket, createServer as createTlsServer } from 'node:tls';
import type { TlsFiles } from '@shipdeck/config';
import { Logger } from '@shipdeck/logging';
import { isActive } from '@shipdeck/tasks';
import { FramedConnection, describeSocketError } from './connection';
import { CommandChannelError } from './errors';
import { Frame } from './framing';
import { decodeWorkerMessage } from './messages';
import {
  CHANNEL_PROTOCOL_VERSION,
  CommandReply,
  MasterToWorker,
  WorkerCommand,
  WorkerRegistration,
  WorkerRunState,
  WorkerToMaster,
} from './protocol';
import { readTlsFiles } from './tls-files';

/** Options of {@link CommandChannelServer}; every default is applied in {@link compileServerOptions}. */
export interface CommandChannelServerOptions {
  /** `server.workerPort`; 0 = any free port (see the port `start()` answers). */
  port: number;
  /** Interface to listen on; default: all. */
  host?: string;
  /** Mutual TLS (`channel.tls.*`): only workers whose certificate chains to the CA get in. Null/absent: plain TCP. */
  tls?: TlsFiles | null;
  /** This master's id, told to every worker in `welcome`. */
  masterId: string;
  /** This master's configuration hash, told to every worker in `welcome`. */
  configHash: string;
  /** A registered worker silent this long (no frame at all) is gone or frozen: its session is closed. */
  heartbeatTimeoutMs: number;
  /** How long `WorkerSession.send` waits for the reply. Default 10 s. */
  commandTimeoutMs?: number;
  /** How long a new connection may take to register. Default 10 s. */
  registerTimeoutMs?: number;
  logger: Logger;
  /** A worker registered on a new connection (a reconnecting worker replaces its old session first). */
  onRegister(session: WorkerSession): void | Promise<void>;
  /** A registered worker re-registered (e.g. now DRAINING), or its heartbeat changed its state or running tasks. */
  onUpdate?(session: WorkerSession): void | Promise<void>;
  /** A registered worker's session ended; `reason` says why (`replaced` when the worker reconnected). */
  onClose?(session: WorkerSession, reason: string): void | Promise<void>;
}

/** {@link CommandChannelServerOptions} with every default applied. */
export type CompiledServerOptions = Required<Omit<CommandChannelServerOptions, 'host' | 'tls'>> &
  Pick<CommandChannelServerOptions, 'host'> & { tls: TlsFiles | null };

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;

export function compileServerOptions(options: CommandChannelServerOptions): CompiledServerOptions {
  return {
    ...options,
    tls: options.tls ?? null,
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    registerTimeoutMs: options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS,
    onUpdate: options.onUpdate ?? (() => undefined),
    onClose: options.onClose ?? (() => undefined),
  };
}

/** A registered worker, as one master sees it over its command channel. */
export interface WorkerSession {
  readonly workerId: string;
  /** What the worker said at its latest `register` (it re-registers e.g. when it starts draining). */
  readonly registration: WorkerRegistration;
  /** RUNNING or DRAINING, from the latest `register` or heartbeat. */
  readonly runState: WorkerRunState;
  /** Ids of the tasks the worker executes, from the latest `register` or heartbeat. */
  readonly runningTasks: readonly string[];
  /** When the worker last sent anything. */
  readonly lastSeen: Date;
  readonly connectedAt: Date;
  /** `ip:port` of the worker's end of the connection. */
  readonly remoteAddress: string;
  /** Subject of the worker's TLS certificate (`CN=worker-1, O=…`); absent on plain TCP. */
  readonly peerCertificateSubject?: string;
  /** False once the session ended (closed, replaced, timed out). */
  readonly open: boolean;
  /**
   * Sends a command and waits for the worker's reply. Rejects with a {@link CommandChannelError}
   * when no reply comes within the command time-out or the channel closes first.
   */
  send(command: WorkerCommand, options?: { timeoutMs?: number }): Promise<CommandReply>;
  /** Ends the session (onClose runs with `reason`); the worker will reconnect by itself. */
  close(reason?: string): void;
}

/** Lifecycle of the server: NEW → STARTING → LISTENING → CLOSED (FAILED when listening failed). */
export type CommandChannelServerState = 'NEW' | 'STARTING' | 'LISTENING' | 'FAILED' | 'CLOSED';

/**
 * The master's end of the command channel (spec §4): accepts worker connections on
 * `server.workerPort` (TCP or mutual TLS), waits for each to register, answers `welcome`, keeps a
 * {@link WorkerSession} per worker id, closes sessions that fall silent, and carries commands and
 * their replies.
 */
export class CommandChannelServer {
  private readonly options: CompiledServerOptions;
  private readonly logger: Logger;
  private state: CommandChannelServerState = 'NEW';
  private server: Server | undefined;
  private readonly connections = new Set<Connection>();
  private readonly byWorker = new Map<string, Connection>();
  private closing: Promise<void> | undefined;

  constructor(options: CommandChannelServerOptions) {
    this.options = compileServerOptions(options);
    this.logger = options.logger;
  }

  get currentState(): CommandChannelServerState {
    return this.state;
  }

  /** Listens; answers the actual port. Rejects with a clear message when the port is taken or a TLS file is unusable. */
  async start(): Promise<{ port: number }> {
    if (this.state !== 'NEW') throw new Error(`cannot start the command channel server in state ${this.state}`);
    this.transition('STARTING');
    const { port, host, tls } = this.options;
    try {
      const server = tls ? this.tlsServer(tls) : createNetServer((socket) => this.accept(socket));
      this.server = server;
      const actual = await new Promise<number>((resolve, reject) => {
        server.once('error', (error: NodeJS.ErrnoException) =>
          reject(
            error.code === 'EADDRINUSE'
              ? new Error(`command channel port ${port} is already in use: stop what uses it or choose another server.workerPort`)
              : error,
          ),
        );
        server.listen(port, host, () => {
          const address = server.address();
          resolve(typeof address === 'object' && address ? address.port : port);
        });
      });
      server.on('error', (error) => this.logger.error(`command channel server error: ${error.message}`));
      // close() may have run while listen() was under way: it could not stop a server not yet listening.
      if ((this.state as CommandChannelServerState) === 'CLOSED') {
        server.close();
        throw new Error('the command channel server was closed while it started');
      }
      this.transition('LISTENING', { port: actual, tls: tls !== null });
      return { port: actual };
    } catch (error) {
      if ((this.state as CommandChannelServerState) !== 'CLOSED') {
        this.transition('FAILED', { error: (error as Error).message });
        this.server?.close();
      }
      throw error;
    }
  }

  /** The registered workers' sessions. */
  sessions(): WorkerSession[] {
    return [...this.byWorker.values()].map((c) => c.session!);
  }

  /** The open session of `workerId`, if it is connected. */
  session(workerId: string): WorkerSession | undefined {
    return this.byWorker.get(workerId)?.session;
  }

  /** Stops listening and ends every connection (sessions close with `master shutting down`). Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const wasState = this.state;
      this.state = 'CLOSED';
      const server = this.server;
      const closed = server?.listening ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
      const ended = [...this.connections].map((c) => {
        c.close('master shutting down');
        return c.framed.whenClosed();
      });
      await Promise.all([closed, ...ended]);
      if (wasState !== 'CLOSED') this.logger.info(`command channel server: ${wasState} → CLOSED`);
    })();
    return this.closing;
  }

  private tlsServer(files: TlsFiles): Server {
    const material = readTlsFiles(files);
    const server = createTlsServer(
      {
        ...material,
        requestCert: true,
        rejectUnauthorized: true,
        handshakeTimeout: this.options.registerTimeoutMs,
      },
      (socket) => this.accept(socket),
    );
    server.on('tlsClientError', (error, socket) => {
      // Node verifies the worker's certificate once the handshake is done and then destroys the
      // socket: the reason is in authorizationError, and the destroyed socket has lost its address
      // (the debug line "connection from …" just before tells it).
      const who = socket.remoteAddress ? `worker ${socket.remoteAddress}:${socket.remotePort}` : 'a worker';
      const code = (error as NodeJS.ErrnoException).code;
      const why = socket.authorizationError
        ? `refused: its certificate does not verify against the CA (${String(socket.authorizationError)})`
        : code === 'ECONNRESET'
          ? "failed: the worker hung up during the handshake (does it trust this master's certificate?)"
          : `failed: ${describeSocketError(error)}`;
      this.logger.warn(`command channel: TLS handshake with ${who} ${why}`);
    });
    server.on('connection', (socket: Socket) =>
      this.logger.debug(`command channel: connection from ${socket.remoteAddress}:${socket.remotePort}`),
    );
    return server;
  }

  private accept(socket: Socket): void {
    if (this.state !== 'LISTENING') {
      socket.destroy();
      return;
    }
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const connection = new Connection(socket, this.options, {
      registered: (c, first) => this.registered(c, first),
      updated: (c) => this.callback('onUpdate', () => this.options.onUpdate(c.session!)),
      closed: (c, reason) => this.closed(c, reason),
    });
    this.connections.add(connection);
  }

  private registered(connection: Connection, first: boolean): void {
    const session = connection.session!;
    const existing = this.byWorker.get(session.workerId);
    if (existing && existing !== connection) {
      this.logger.info(`worker ${session.workerId} reconnected from ${session.remoteAddress}: replacing its old session`);
      existing.close('replaced');
    }
    this.byWorker.set(session.workerId, connection);
    if (first) {
      this.logger.info(`worker ${session.workerId} (${session.registration.name}) registered from ${session.remoteAddress}`, {
        workerId: session.workerId,
        state: session.runState,
        tasks: session.registration.tasks.length,
        ...(session.peerCertificateSubject ? { certificate: session.peerCertificateSubject } : {}),
      });
      this.callback('onRegister', () => this.options.onRegister(session));
    } else {
      this.logger.info(`worker ${session.workerId} re-registered: ${session.runState}`, { workerId: session.workerId });
      this.callback('onUpdate', () => this.options.onUpdate(session));
    }
  }

  private closed(connection: Connection, reason: string): void {
    this.connections.delete(connection);
    const session = connection.session;
    if (!session) return;
    if (this.byWorker.get(session.workerId) === connection) this.byWorker.delete(session.workerId);
    this.logger.info(`worker ${session.workerId} session closed: ${reason}`, { workerId: session.workerId });
    this.callback('onClose', () => this.options.onClose(session, reason));
  }

  /** Runs a caller's callback; what it throws or rejects with is logged, never thrown into the socket code. */
  private callback(name: string, run: () => void | Promise<void>): void {
    const fail = (error: unknown) => this.logger.error(`command channel ${name} callback failed`, { error });
    try {
      const result = run();
      if (result instanceof Promise) result.catch(fail);
    } catch (error) {
      fail(error);
    }
  }

  private transition(state: CommandChannelServerState, meta: Record<string, unknown> = {}): void {
    this.logger.info(`command channel server: ${this.state} → ${state}`, meta);
    this.state = state;
  }
}

interface ConnectionEvents {
  /** A register arrived; `first` when it is the connection's first. */
  registered(connection: Connection, first: boolean): void;
  updated(connection: Connection): void;
  closed(connection: Connection, reason: string): void;
}

interface PendingCommand {
  resolve(reply: CommandReply): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  kind: WorkerCommand['kind'];
}

/** One worker connection: before `register`, a stranger on a register time-out; after, a session. */
class Connection {
  readonly framed: FramedConnection<MasterToWorker>;
  session: Session | undefined;
  private silence: NodeJS.Timeout;
  private readonly remoteAddress: string;
  private readonly warnedTypes = new Set<string>();

  constructor(
    socket: Socket,
    private readonly options: CompiledServerOptions,
    private readonly events: ConnectionEvents,
  ) {
    this.remoteAddress = `${socket.remoteAddress ?? 'unknown'}:${socket.remotePort ?? '?'}`;
    this.framed = new FramedConnection({
      socket,
      logger: options.logger,
      peer: `worker ${this.remoteAddress}`,
      onFrame: (frame) => this.receive(frame),
      onClose: (reason) => {
        clearTimeout(this.silence);
        this.session?.failPending(reason);
        this.events.closed(this, reason);
      },
    });
    this.silence = setTimeout(() => this.silent(), options.registerTimeoutMs);
  }

  close(reason: string): void {
    this.framed.close(reason);
  }

  send(message: MasterToWorker): boolean {
    return this.framed.send(message);
  }

  private silent(): void {
    const reason = this.session
      ? `no message for ${this.options.heartbeatTimeoutMs} ms: the worker is gone or frozen`
      : `no register within ${this.options.registerTimeoutMs} ms`;
    this.options.logger.warn(`closing the channel with ${this.session ? `worker ${this.session.workerId}` : this.remoteAddress}: ${reason}`);
    // A frozen peer reads nothing: waiting for a goodbye to flush would only delay the close.
    this.framed.destroy(reason);
  }

  private receive(frame: Frame): void {
    const decoded = decodeWorkerMessage(frame);
    if (decoded.kind === 'unknown') {
      if (!this.warnedTypes.has(decoded.type)) {
        this.warnedTypes.add(decoded.type);
        this.options.logger.warn(`ignoring messages of unknown type ${JSON.stringify(decoded.type)} from ${this.peer()}`);
      }
      this.seen();
      return;
    }
    if (decoded.kind === 'invalid') {
      this.options.logger.warn(`closing the channel with ${this.peer()}: ${decoded.reason}`);
      this.framed.close(decoded.reason);
      return;
    }
    this.handle(decoded.message);
  }

  private handle(message: WorkerToMaster): void {
    if (message.type === 'goodbye') {
      this.options.logger.info(`${this.peer()} closes its channel: ${message.reason}`);
      this.framed.close(`closed by the worker: ${message.reason}`, false);
      return;
    }
    if (message.type === 'register') {
      this.register(message.registration);
      return;
    }
    const session = this.session;
    if (!session) {
      this.options.logger.warn(`ignoring a ${message.type} message from ${this.remoteAddress} before it registered`);
      return;
    }
    this.seen();
    if (message.type === 'heartbeat') {
      if (session.heartbeat(message.state, message.runningTasks)) this.events.updated(this);
    } else {
      session.replied(message.requestId, message.reply);
    }
  }

  private register(registration: WorkerRegistration): void {
    if (registration.protocolVersion !== CHANNEL_PROTOCOL_VERSION) {
      this.options.logger.warn(
        `worker ${registration.workerId} speaks channel protocol ${registration.protocolVersion}, this master ${CHANNEL_PROTOCOL_VERSION}`,
      );
    }
    if (this.session) {
      if (registration.workerId !== this.session.workerId) {
        const reason = `worker ${this.session.workerId} re-registered as ${registration.workerId} on the same connection`;
        this.options.logger.warn(`closing the channel with ${this.remoteAddress}: ${reason}`);
        this.framed.close(reason);
        return;
      }
      this.seen();
      this.session.reregister(registration);
      this.events.registered(this, false);
      return;
    }
    const socket = this.framed.socket;
    this.session = new Session(this, registration, this.remoteAddress, certificateSubject(socket), this.options);
    // From now on the allowed silence is the heartbeat time-out, re-armed by every frame.
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.silent(), this.options.heartbeatTimeoutMs);
    this.send({ type: 'welcome', masterId: this.options.masterId, configHash: this.options.configHash });
    this.events.registered(this, true);
  }

  /** Every frame of a registered worker proves it alive. */
  private seen(): void {
    if (!this.session) return;
    this.session.lastSeen = new Date();
    if (!this.framed.closed) this.silence.refresh();
  }

  private peer(): string {
    return this.session ? `worker ${this.session.workerId} (${this.remoteAddress})` : this.remoteAddress;
  }
}

class Session implements WorkerSession {
  runState: WorkerRunState;
  runningTasks: readonly string[];
  lastSeen = new Date();
  readonly connectedAt = new Date();
  private readonly pending = new Map<string, PendingCommand>();

  constructor(
    private readonly connection: Connection,
    public registration: WorkerRegistration,
    readonly remoteAddress: string,
    readonly peerCertificateSubject: string | undefined,
    private readonly options: CompiledServerOptions,
  ) {
    this.runState = registration.state;
    this.runningTasks = runningTaskIds(registration);
  }

  get workerId(): string {
    return this.registration.workerId;
  }

  get open(): boolean {
    return !this.connection.framed.closed;
  }

  send(command: WorkerCommand, options: { timeoutMs?: number } = {}): Promise<CommandReply> {
    const what = `${command.kind} command for worker ${this.workerId}`;
    if (!this.open) {
      return Promise.reject(new CommandChannelError(`cannot send the ${what}: its channel is closed`, 'closed', this.workerId));
    }
    const timeoutMs = options.timeoutMs ?? this.options.commandTimeoutMs;
    const requestId = randomUUID();
    return new Promise<CommandReply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(requestId);
        reject(new CommandChannelError(`the worker did not answer the ${what} within ${timeoutMs} ms`, 'timeout', this.workerId));
      }, timeoutMs);
      this.pending.set(requestId, { resolve, reject, timer, kind: command.kind });
      if (!this.connection.send({ type: 'command', requestId, command })) {
        clearTimeout(timer);
        this.pending.delete(requestId);
        reject(new CommandChannelError(`cannot send the ${what}: its channel is closed`, 'closed', this.workerId));
      }
    });
  }

  close(reason = 'closed by the master'): void {
    this.connection.close(reason);
  }

  reregister(registration: WorkerRegistration): void {
    this.registration = registration;
    this.runState = registration.state;
    this.runningTasks = runningTaskIds(registration);
  }

  /** Applies a heartbeat; true when it changed the state or the running tasks. */
  heartbeat(state: WorkerRunState, runningTasks: string[]): boolean {
    const changed =
      state !== this.runState ||
      runningTasks.length !== this.runningTasks.length ||
      runningTasks.some((id, i) => id !== this.runningTasks[i]);
    this.runState = state;
    this.runningTasks = runningTasks;
    return changed;
  }

  replied(requestId: string, reply: CommandReply): void {
    const pending = this.pending.get(requestId);
    if (!pending) {
      // A reply that came after its time-out: its requester has its answer already.
      this.options.logger.debug(`ignoring a late reply from worker ${this.workerId}`, { requestId });
      return;
    }
    this.pending.delete(requestId);
    clearTimeout(pending.timer);
    pending.resolve(reply);
  }

  failPending(reason: string): void {
    for (const [requestId, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(
        new CommandChannelError(
          `the channel of worker ${this.workerId} closed before it answered the ${pending.kind} command: ${reason}`,
          'closed',
          this.workerId,
        ),
      );
      this.pending.delete(requestId);
    }
  }
}

function runningTaskIds(registration: WorkerRegistration): string[] {
  return registration.tasks.filter((task) => isActive(task.state)).map((task) => task.id);
}

function certificateSubject(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const subject = socket.getPeerCertificate()?.subject as unknown as Record<string, string | string[]> | undefined;
  if (!subject || Object.keys(subject).length === 0) return undefined;
  return Object.entries(subject)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ');
}
