import { Socket } from 'node:net';
import { TLSSocket } from 'node:tls';
import { newNonce, registerProof, sameMac, welcomeProof } from './channel-auth';
import { FramedConnection } from './framed-connection';
import { Frame } from './framing';
import { decodeWorkerMessage } from './messages';
import { CHANNEL_PROTOCOL_VERSION, MasterToWorker, RegisterProof, WorkerRegistration, WorkerToMaster } from './protocol';
import type { CompiledServerOptions } from './server-options';
import { Session, SessionConnection } from './session';

/** What a {@link WorkerConnection} tells the server, and asks it. */
export interface ConnectionEvents {
  /**
   * Whether this authenticated peer may take the identity of `workerId` (with mutual TLS the id
   * is bound to a certificate subject); answers the reason of a refusal, or undefined.
   */
  admit(workerId: string, certificateSubject: string | undefined): Promise<string | undefined>;
  /** A register arrived; `first` when it is the connection's first. */
  registered(connection: WorkerConnection, first: boolean): void;
  updated(connection: WorkerConnection): void;
  closed(connection: WorkerConnection, reason: string): void;
}

/** One worker's connection to the master: before `register`, a stranger on a register time-out; after, a session. */
export class WorkerConnection implements SessionConnection {
  readonly framed: FramedConnection<MasterToWorker>;
  session: Session | undefined;
  private silence: NodeJS.Timeout;
  private readonly remoteAddress: string;
  private readonly warnedTypes = new Set<string>();
  /** The challenge of this connection: what the worker's proof must cover. */
  private readonly nonce = newNonce();
  /**
   * While a first register is being admitted (its certificate binding checked), the frames that
   * follow it wait here, to be handled in order once it is answered.
   */
  private backlog: Frame[] | null = null;

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
    this.framed.send({ type: 'hello', protocolVersion: CHANNEL_PROTOCOL_VERSION, nonce: this.nonce, hmac: options.channelKey !== null });
  }

  get closed(): boolean {
    return this.framed.closed;
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
    if (this.backlog) {
      this.backlog.push(frame);
      return;
    }
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
      void this.register(message.registration, message.proof);
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

  private async register(registration: WorkerRegistration, proof: RegisterProof | undefined): Promise<void> {
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
    const { workerId } = registration;
    const key = this.options.channelKey;
    if (key) {
      if (!proof) return this.refuse(workerId, 'it did not prove that it knows the cluster secret (set cluster.secret on the worker)');
      if (!sameMac(proof.mac, registerProof(key, this.nonce, proof.nonce, workerId))) {
        return this.refuse(workerId, 'its proof of the cluster secret is wrong (is cluster.secret the same on masters and workers?)');
      }
    }
    const subject = certificateSubject(this.framed.socket);
    this.backlog = [];
    const refusal = await this.events.admit(workerId, subject);
    const queued = this.backlog;
    this.backlog = null;
    if (this.framed.closed) return;
    if (refusal) return this.refuse(workerId, refusal);
    this.session = new Session(this, registration, this.remoteAddress, subject, this.options);
    // From now on the allowed silence is the heartbeat time-out, re-armed by every frame.
    clearTimeout(this.silence);
    this.silence = setTimeout(() => this.silent(), this.options.heartbeatTimeoutMs);
    const { masterId, configHash } = this.options;
    this.send(
      key && proof
        ? { type: 'welcome', masterId, configHash, proof: welcomeProof(key, this.nonce, proof.nonce, workerId, masterId, configHash) }
        : { type: 'welcome', masterId, configHash },
    );
    this.events.registered(this, true);
    for (const frame of queued) this.receive(frame);
  }

  /** Closes a connection whose registration is refused; no session is made or touched. */
  private refuse(workerId: string, why: string): void {
    this.options.logger.warn(`refused the registration of worker ${workerId} from ${this.remoteAddress}: ${why}`);
    // The worker learns that it was refused and why, but not more than it could learn anyway.
    this.framed.close(`registration refused: ${why}`);
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

function certificateSubject(socket: Socket): string | undefined {
  if (!(socket instanceof TLSSocket)) return undefined;
  const subject = socket.getPeerCertificate()?.subject as unknown as Record<string, string | string[]> | undefined;
  if (!subject || Object.keys(subject).length === 0) return undefined;
  return Object.entries(subject)
    .map(([key, value]) => `${key}=${Array.isArray(value) ? value.join('+') : value}`)
    .join(', ');
}
