import { Server, Socket, createServer as createNetServer } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { TlsFiles } from '@shipdeck/config';
import { Logger } from '@shipdeck/logging';
import { runCallback } from './callbacks';
import { describeSocketError } from './framed-connection';
import { CommandChannelServerOptions, CompiledServerOptions, compileServerOptions } from './server-options';
import { readTlsFiles } from './tls-files';
import { WorkerConnection } from './worker-connection';
import type { WorkerSession } from './worker-session';

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
  private readonly connections = new Set<WorkerConnection>();
  private readonly byWorker = new Map<string, WorkerConnection>();
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
      this.transition('LISTENING', { port: actual, tls: tls !== null, hmac: this.options.channelKey !== null });
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
    const connection = new WorkerConnection(socket, this.options, {
      admit: (workerId, subject) => this.admit(workerId, subject),
      registered: (c, first) => this.registered(c, first),
      updated: (c) => runCallback(this.logger, 'onUpdate', () => this.options.onUpdate(c.session!)),
      closed: (c, reason) => this.closed(c, reason),
    });
    this.connections.add(connection);
  }

  /**
   * With mutual TLS, a worker id belongs to the certificate subject it first registered with
   * (kept by `certificateBindings`, shared by every master): another certificate of the same CA
   * cannot take that id (and its session, its tasks' commands) over.
   */
  private async admit(workerId: string, certificateSubject: string | undefined): Promise<string | undefined> {
    if (!this.options.tls) return undefined;
    const subject = certificateSubject ?? '(a certificate without subject)';
    let bound: string;
    try {
      bound = await this.options.certificateBindings.bind(workerId, subject);
    } catch (error) {
      return `the certificate binding of worker id ${workerId} cannot be checked now: ${(error as Error).message}`;
    }
    return bound === subject ? undefined : `worker id ${workerId} belongs to the certificate ${bound}, not to ${subject}`;
  }

  private registered(connection: WorkerConnection, first: boolean): void {
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
      runCallback(this.logger, 'onRegister', () => this.options.onRegister(session));
    } else {
      this.logger.info(`worker ${session.workerId} re-registered: ${session.runState}`, { workerId: session.workerId });
      runCallback(this.logger, 'onUpdate', () => this.options.onUpdate(session));
    }
  }

  private closed(connection: WorkerConnection, reason: string): void {
    this.connections.delete(connection);
    const session = connection.session;
    if (!session) return;
    if (this.byWorker.get(session.workerId) === connection) this.byWorker.delete(session.workerId);
    this.logger.info(`worker ${session.workerId} session closed: ${reason}`, { workerId: session.workerId });
    runCallback(this.logger, 'onClose', () => this.options.onClose(session, reason));
  }
  private transition(state: CommandChannelServerState, meta: Record<string, unknown> = {}): void {
    this.logger.info(`command channel server: ${this.state} → ${state}`, meta);
    this.state = state;
  }
}
