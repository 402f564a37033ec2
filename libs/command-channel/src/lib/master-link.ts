import { Socket, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { backoffDelayMs } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';
import { runCallback } from './callbacks';
import { newNonce, registerProof, sameMac, welcomeProof } from './channel-auth';
import type { CompiledClientOptions, MasterInfo, MasterStatus } from './client-options';
import { Endpoint } from './discovery';
import { CLOSED_BY_PEER, FramedConnection } from './framed-connection';
import { Frame } from './framing';
import { decodeMasterMessage, isKnownCommand } from './messages';
import { CommandReply, MasterToWorker, WorkerCommand, WorkerToMaster } from './protocol';
import { RECONNECT_JITTER } from './reconnect';
import type { TlsMaterial } from './tls-files';

/** State of the channel to one master. */
export type LinkState = 'CONNECTING' | 'REGISTERING' | 'CONNECTED' | 'WAITING' | 'DROPPED';

/** The worker's channel to one master endpoint: connect, register, heartbeat, reconnect with backoff. */
export class MasterLink {
  private state: LinkState = 'WAITING';
  private connection: FramedConnection<WorkerToMaster> | undefined;
  private master: MasterInfo | undefined;
  /** Failed attempts since the last welcome: the backoff's exponent. */
  private failures = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private lastFailure: string | undefined;
  /** The nonces of this connection's handshake: the master's (from hello) and this worker's. */
  private challenge: { masterNonce: string; workerNonce: string; workerId?: string } | undefined;
  /** Message types of a newer master, logged once each. */
  private readonly unknownTypes = new Set<string>();
  private readonly logger: Logger;

  constructor(
    readonly key: string,
    private readonly endpoint: Endpoint,
    private readonly options: CompiledClientOptions,
    private readonly tls: () => TlsMaterial | null,
  ) {
    this.logger = options.logger;
  }

  status(): MasterStatus {
    return {
      endpoint: this.key,
      connected: this.state === 'CONNECTED',
      ...(this.master ? { masterId: this.master.masterId, configHash: this.master.configHash } : {}),
    };
  }

  connect(): void {
    if (this.state === 'DROPPED') return;
    this.state = 'CONNECTING';
    const { host, port, name } = this.endpoint;
    const material = this.tls();
    const socket: Socket = material
      ? tlsConnect({
          host,
          port,
          ...material,
          rejectUnauthorized: true,
          // SNI may not carry an IP address; Node still checks an IP against the certificate's IP SANs.
          ...(isIP(name ?? host) === 0 ? { servername: name ?? host } : {}),
        })
      : netConnect({ host, port });
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    const connection: FramedConnection<WorkerToMaster> = new FramedConnection({
      socket,
      logger: this.logger,
      peer: `master ${this.key}`,
      onFrame: (frame) => this.receive(connection, frame),
      onClose: (reason) => this.closed(connection, reason),
    });
    this.connection = connection;
    this.challenge = undefined;
    this.connectTimer = setTimeout(
      () => connection.destroy(`no welcome within ${this.options.connectTimeoutMs} ms`),
      this.options.connectTimeoutMs,
    );
    socket.once(material ? 'secureConnect' : 'connect', () => {
      if (connection.closed || this.connection !== connection) return;
      this.state = 'REGISTERING';
      this.register();
      this.heartbeatTimer = setInterval(() => this.heartbeat(), this.options.heartbeatIntervalMs);
    });
  }

  /**
   * Sends `register` now, when the channel is open. The first one on a connection carries the
   * proof of the cluster secret when the worker has one; it must then wait for the master's hello.
   */
  register(): void {
    if (this.state !== 'REGISTERING' && this.state !== 'CONNECTED') return;
    const key = this.options.channelKey;
    if (this.state === 'CONNECTED' || !key) {
      this.sendComputed('computing the worker registration failed', () => ({ type: 'register', registration: this.options.registration() }));
      return;
    }
    const challenge = this.challenge;
    if (!challenge) return;
    this.sendComputed('computing the worker registration failed', () => {
      const registration = this.options.registration();
      challenge.workerId = registration.workerId;
      const mac = registerProof(key, challenge.masterNonce, challenge.workerNonce, registration.workerId);
      return { type: 'register', registration, proof: { nonce: challenge.workerNonce, mac } };
    });
  }

  /** Stops for good: no reconnect. Resolves when the socket is closed. */
  async drop(reason: string, notify: boolean): Promise<void> {
    const wasConnected = this.state === 'CONNECTED';
    this.state = 'DROPPED';
    clearTimeout(this.retryTimer);
    const connection = this.connection;
    if (connection && !connection.closed) {
      connection.close(reason);
      await connection.whenClosed();
    }
    if (wasConnected && notify) runCallback(this.logger, 'onMasterLost', () => this.options.onMasterLost(this.key));
  }

  private heartbeat(): void {
    this.sendComputed('computing the worker status for a heartbeat failed', () => {
      const { state, runningTasks } = this.options.status();
      return { type: 'heartbeat', state, runningTasks };
    });
  }

  /** Sends what `message` computes from the caller's callbacks; a failing callback is logged and nothing is sent. */
  private sendComputed(failure: string, message: () => WorkerToMaster): void {
    let computed: WorkerToMaster;
    try {
      computed = message();
    } catch (error) {
      this.logger.error(failure, { error });
      return;
    }
    this.send(computed);
  }


  private send(message: WorkerToMaster): void {
    this.connection?.send(message);
  }

  private receive(connection: FramedConnection<WorkerToMaster>, frame: Frame): void {
    const decoded = decodeMasterMessage(frame);
    if (decoded.kind === 'unknown') {
      if (!this.unknownTypes.has(decoded.type)) {
        this.unknownTypes.add(decoded.type);
        this.logger.warn(`ignoring messages of unknown type ${JSON.stringify(decoded.type)} from master ${this.key}`);
      }
      return;
    }
    if (decoded.kind === 'invalid') {
      this.logger.warn(`closing the channel with master ${this.key}: ${decoded.reason}`);
      connection.close(decoded.reason);
      return;
    }
    this.handle(connection, decoded.message);
  }

  private handle(connection: FramedConnection<WorkerToMaster>, message: MasterToWorker): void {
    switch (message.type) {
      case 'hello':
        this.hello(connection, message.nonce, message.hmac);
        return;
      case 'welcome': {
        const refusal = this.checkWelcome(message.masterId, message.configHash, message.proof);
        if (refusal) {
          this.logger.error(`not trusting master ${this.key}: ${refusal}`);
          connection.close(`master not trusted: ${refusal}`);
          return;
        }
        clearTimeout(this.connectTimer);
        const first = this.state !== 'CONNECTED';
        this.state = 'CONNECTED';
        this.master = { masterId: message.masterId, configHash: message.configHash, endpoint: this.key };
        this.failures = 0;
        this.lastFailure = undefined;
        if (first) {
          this.logger.info(`connected to master ${message.masterId} at ${this.key}`, { configHash: message.configHash });
          runCallback(this.logger, 'onWelcome', () => this.options.onWelcome(this.master!));
        }
        return;
      }
      case 'command':
        void this.execute(connection, message.requestId, message.command);
        return;
      case 'goodbye':
        this.logger.info(`master ${this.key} closes the channel: ${message.reason}`);
        connection.close(`closed by the master: ${message.reason}`, false);
        return;
    }
  }

  private hello(connection: FramedConnection<WorkerToMaster>, masterNonce: string, masterWantsProof: boolean): void {
    if (this.state !== 'REGISTERING' || this.challenge) return;
    if (!this.options.channelKey) {
      // Registered already on connect; the master refuses it and says why in its goodbye.
      if (masterWantsProof) this.logger.error(`master ${this.key} requires the cluster secret: set cluster.secret (SHIPDECK_CLUSTER_SECRET) on this worker`);
      return;
    }
    if (!masterWantsProof) {
      const reason = 'it does not ask for the cluster secret (has it no cluster.secret?), so it cannot prove that it belongs to the cluster';
      this.logger.error(`not registering with master ${this.key}: ${reason}`);
      connection.close(`master not trusted: ${reason}`);
      return;
    }
    this.challenge = { masterNonce, workerNonce: newNonce() };
    this.register();
  }

  /** Why the welcome of a master is not to be trusted, or undefined: with a secret, the master must prove it. */
  private checkWelcome(masterId: string, configHash: string, proof: string | undefined): string | undefined {
    const key = this.options.channelKey;
    if (!key || this.state === 'CONNECTED') return undefined;
    const challenge = this.challenge;
    if (challenge?.workerId === undefined) return 'it welcomed this worker before the worker proved the cluster secret';
    const expected = welcomeProof(key, challenge.masterNonce, challenge.workerNonce, challenge.workerId, masterId, configHash);
    if (proof === undefined || !sameMac(proof, expected)) return 'its proof of the cluster secret is missing or wrong';
    return undefined;
  }

  private async execute(connection: FramedConnection<WorkerToMaster>, requestId: string, command: WorkerCommand): Promise<void> {
    let reply: CommandReply;
    if (!isKnownCommand(command)) {
      reply = { ok: false, message: `this worker does not know the command ${JSON.stringify(command.kind)}` };
    } else if (!this.master) {
      reply = { ok: false, message: 'command received before welcome' };
    } else {
      try {
        reply = await this.options.onCommand(command, this.master);
      } catch (error) {
        reply = { ok: false, message: error instanceof Error ? error.message : String(error) };
      }
    }
    if (connection.closed) {
      this.logger.warn(`the channel with master ${this.key} closed before the reply to its ${command.kind} command could be sent`);
      return;
    }
    if (!connection.send({ type: 'reply', requestId, reply } satisfies WorkerToMaster)) {
      connection.send({ type: 'reply', requestId, reply: { ok: reply.ok, message: `${reply.message} (reply data too large to send)` } });
    }
  }

  private closed(connection: FramedConnection<WorkerToMaster>, closeReason: string): void {
    if (this.connection !== connection) return;
    clearTimeout(this.connectTimer);
    clearInterval(this.heartbeatTimer);
    this.connection = undefined;
    const wasConnected = this.state === 'CONNECTED';
    if (this.state === 'DROPPED') return;
    // In TLS 1.3 the worker's side of the handshake completes before the master checks the
    // worker's certificate; a master that refuses it just closes the connection.
    const reason =
      this.tls() !== null && this.state === 'REGISTERING' && closeReason === CLOSED_BY_PEER
        ? "TLS handshake refused: the master closed the connection before welcoming the worker (does it trust this worker's certificate?)"
        : closeReason;
    this.state = 'WAITING';
    const delay = backoffDelayMs(this.failures++, { ...this.options.reconnect, jitter: RECONNECT_JITTER });
    if (wasConnected) {
      this.logger.warn(`lost master ${this.master?.masterId ?? ''} at ${this.key}: ${reason}; reconnecting in ${delay} ms`);
      runCallback(this.logger, 'onMasterLost', () => this.options.onMasterLost(this.key));
    } else {
      const what = /TLS handshake/.test(reason) ? 'TLS handshake with' : 'cannot connect to';
      const line = `${what} master ${this.key} failed: ${reason}; retrying in ${delay} ms`;
      // The same failure again and again is news once; its repetitions go to debug.
      if (reason !== this.lastFailure) this.logger.warn(line);
      else this.logger.debug(line);
      this.lastFailure = reason;
    }
    this.retryTimer = setTimeout(() => this.connect(), delay);
  }
}
