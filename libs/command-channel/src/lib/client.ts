import { Socket, connect as netConnect, isIP } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { TlsFiles } from '@shipdeck/config';
import { ConfigError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { isActive } from '@shipdeck/tasks';
import { CLOSED_BY_PEER, FramedConnection } from './connection';
import { DnsResolver, Endpoint, endpointKey, isDnsDiscovery, resolveMasters } from './discovery';
import { Frame } from './framing';
import { decodeMasterMessage, isKnownCommand } from './messages';
import { CommandReply, MasterToWorker, WorkerCommand, WorkerRegistration, WorkerRunState, WorkerToMaster } from './protocol';
import { TlsMaterial, readTlsFiles } from './tls-files';

/** A master as the worker knows it once it welcomed the worker. */
export interface MasterInfo {
  masterId: string;
  configHash: string;
  /** `host:port` the worker connected to. */
  endpoint: string;
}

/** One master endpoint and the worker's channel to it, for `masters()`. */
export interface MasterStatus {
  endpoint: string;
  /** True while the channel is open and the master welcomed the worker. */
  connected: boolean;
  masterId?: string;
  configHash?: string;
}

/** What a worker says in every heartbeat. */
export interface WorkerStatus {
  state: WorkerRunState;
  runningTasks: string[];
}

/** Options of {@link CommandChannelClient}; every default is applied in {@link compileClientOptions}. */
export interface CommandChannelClientOptions {
  /** The `-master` flags: `host:port` entries (a static list), or one DNS name (SRV or A records). */
  masters: readonly string[];
  /** Port of entries without one, and of A-record masters (`server.workerPort`). */
  defaultPort: number;
  /** DNS servers for a `-master` name (`worker.dnsServers`, `ip[:port]`); empty/absent: the system resolver. */
  dnsServers?: readonly string[];
  /** How often a DNS name is re-resolved (`worker.connectInterval`). */
  resolveIntervalMs: number;
  /** Mutual TLS (`channel.tls.*`): only masters whose certificate chains to the CA are trusted. Null/absent: plain TCP. */
  tls?: TlsFiles | null;
  /** What the worker says about itself; called at every (re)connect and by `announce()`. */
  registration: () => WorkerRegistration;
  /** What every heartbeat says. Default: state and active tasks of `registration()`. */
  status?: () => WorkerStatus;
  /** `worker.heartbeatInterval` */
  heartbeatIntervalMs: number;
  /** Backoff between attempts to reach one master: doubles from `initialDelayMs` up to `maxDelayMs`. Default 500 ms → 10 s. */
  reconnect?: { initialDelayMs: number; maxDelayMs: number };
  /** How long connecting (TCP, TLS handshake, welcome) may take before the attempt counts as failed. Default 10 s. */
  connectTimeoutMs?: number;
  /** Carries out a master's command; a throw or rejection is answered `{ ok: false, message }`. */
  onCommand(command: WorkerCommand, master: MasterInfo): Promise<CommandReply>;
  /** A master welcomed the worker (after each (re)connect). */
  onWelcome?(master: MasterInfo): void;
  /** The channel to a master that had welcomed the worker closed (it will be retried unless the master was dropped). */
  onMasterLost?(endpoint: string): void;
  logger: Logger;
  /** Replaces the DNS resolver of discovery (tests). */
  resolver?: DnsResolver;
}

/** {@link CommandChannelClientOptions} with every default applied. */
export interface CompiledClientOptions
  extends Required<Omit<CommandChannelClientOptions, 'tls' | 'resolver' | 'onWelcome' | 'onMasterLost'>> {
  tls: TlsFiles | null;
  resolver?: DnsResolver;
  onWelcome(master: MasterInfo): void;
  onMasterLost(endpoint: string): void;
}

export function compileClientOptions(options: CommandChannelClientOptions): CompiledClientOptions {
  const reconnect = options.reconnect ?? { initialDelayMs: 500, maxDelayMs: 10_000 };
  if (!(reconnect.initialDelayMs > 0 && reconnect.maxDelayMs >= reconnect.initialDelayMs)) {
    throw new ConfigError('command channel reconnect delays must be positive, the maximum at least the initial one');
  }
  return {
    ...options,
    dnsServers: options.dnsServers ?? [],
    tls: options.tls ?? null,
    status: options.status ?? (() => statusOf(options.registration())),
    reconnect,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    onWelcome: options.onWelcome ?? (() => undefined),
    onMasterLost: options.onMasterLost ?? (() => undefined),
  };
}

/** Lifecycle of the client: NEW → STARTING → RUNNING → CLOSED. */
export type CommandChannelClientState = 'NEW' | 'STARTING' | 'RUNNING' | 'CLOSED';

/**
 * The worker's end of the command channel (spec §4): finds the masters (static list or DNS,
 * re-resolved every `resolveIntervalMs`), keeps one connection to each, registers on every
 * (re)connect, sends heartbeats, carries out the masters' commands and reconnects with backoff.
 */
export class CommandChannelClient {
  private readonly options: CompiledClientOptions;
  private readonly logger: Logger;
  private state: CommandChannelClientState = 'NEW';
  private readonly links = new Map<string, MasterLink>();
  private tlsMaterial: TlsMaterial | null = null;
  private resolveTimer: NodeJS.Timeout | undefined;
  private emptyRetryDelayMs: number;
  private closing: Promise<void> | undefined;

  constructor(options: CommandChannelClientOptions) {
    this.options = compileClientOptions(options);
    this.logger = options.logger;
    this.emptyRetryDelayMs = this.options.reconnect.initialDelayMs;
  }

  get currentState(): CommandChannelClientState {
    return this.state;
  }

  /**
   * Reads the TLS files, resolves the masters once and starts connecting to them (in the
   * background). Rejects with a {@link ConfigError} for bad `-master` flags or unusable TLS files;
   * a DNS failure is logged and retried.
   */
  async start(): Promise<void> {
    if (this.state !== 'NEW') throw new Error(`cannot start the command channel client in state ${this.state}`);
    this.transition('STARTING');
    if (this.options.tls) this.tlsMaterial = readTlsFiles(this.options.tls);
    const dns = isDnsDiscovery(this.options.masters);
    await this.resolve(true);
    // close() may have run while the first resolution was under way.
    if ((this.state as CommandChannelClientState) === 'CLOSED') return;
    this.transition('RUNNING', { masters: this.options.masters.join(','), discovery: dns ? 'dns' : 'static' });
    if (dns) this.scheduleResolve();
  }

  /** Sends a fresh `register` to every master now connected, e.g. once the worker is DRAINING. */
  announce(): void {
    for (const link of this.links.values()) link.register();
  }

  /** Every master endpoint currently known and whether its channel is up. */
  masters(): MasterStatus[] {
    return [...this.links.values()].map((link) => link.status());
  }

  /** Stops resolving and heartbeats, says goodbye to every master and ends every connection. Idempotent. */
  close(): Promise<void> {
    this.closing ??= (async () => {
      const was = this.state;
      this.state = 'CLOSED';
      clearTimeout(this.resolveTimer);
      const links = [...this.links.values()];
      this.links.clear();
      await Promise.all(links.map((link) => link.drop('worker shutting down', false)));
      if (was !== 'CLOSED') this.logger.info(`command channel client: ${was} → CLOSED`);
    })();
    return this.closing;
  }

  private scheduleResolve(): void {
    if (this.state === 'CLOSED') return;
    // With no master at all, try again sooner than the regular interval.
    const delay =
      this.links.size === 0 ? Math.min(this.emptyRetryDelayMs, this.options.resolveIntervalMs) : this.options.resolveIntervalMs;
    this.emptyRetryDelayMs = this.links.size === 0 ? Math.min(this.emptyRetryDelayMs * 2, this.options.resolveIntervalMs) : this.options.reconnect.initialDelayMs;
    this.resolveTimer = setTimeout(() => {
      void this.resolve(false).finally(() => this.scheduleResolve());
    }, delay);
  }

  private async resolve(first: boolean): Promise<void> {
    let endpoints: Endpoint[];
    try {
      endpoints = await resolveMasters(this.options.masters, {
        defaultPort: this.options.defaultPort,
        dnsServers: this.options.dnsServers,
        resolver: this.options.resolver,
      });
    } catch (error) {
      if (error instanceof ConfigError) throw error;
      const masters = [...this.links.keys()];
      this.logger.warn(
        `cannot resolve the masters ${this.options.masters.join(', ')}: ${(error as Error).message}; ` +
          (masters.length > 0 ? `keeping ${masters.join(', ')}` : 'no master to connect to yet'),
      );
      return;
    }
    if (this.state === 'CLOSED') return;
    const found = new Map(endpoints.map((endpoint) => [endpointKey(endpoint), endpoint]));
    for (const [key, link] of this.links) {
      if (found.has(key)) continue;
      this.logger.info(`master ${key} is no longer listed by ${this.options.masters.join(', ')}: disconnecting from it`);
      this.links.delete(key);
      void link.drop('master no longer listed', true);
    }
    const added = [...found].filter(([key]) => !this.links.has(key));
    if (added.length > 0) {
      const verb = first ? 'connecting to' : 'new masters listed, connecting to';
      this.logger.info(`command channel: ${verb} ${added.map(([key]) => key).join(', ')}`);
    }
    for (const [key, endpoint] of added) {
      const link = new MasterLink(key, endpoint, this.options, () => this.tlsMaterial);
      this.links.set(key, link);
      link.connect();
    }
  }

  private transition(state: CommandChannelClientState, meta: Record<string, unknown> = {}): void {
    this.logger.info(`command channel client: ${this.state} → ${state}`, meta);
    this.state = state;
  }
}

/** State of the channel to one master. */
type LinkState = 'CONNECTING' | 'REGISTERING' | 'CONNECTED' | 'WAITING' | 'DROPPED';

/** The worker's channel to one master endpoint: connect, register, heartbeat, reconnect with backoff. */
class MasterLink {
  private state: LinkState = 'WAITING';
  private connection: FramedConnection<WorkerToMaster> | undefined;
  private master: MasterInfo | undefined;
  private delayMs: number;
  private retryTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;
  private lastFailure: string | undefined;
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
    this.delayMs = options.reconnect.initialDelayMs;
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

  /** Sends `register` now, when the channel is open. */
  register(): void {
    if (this.state !== 'REGISTERING' && this.state !== 'CONNECTED') return;
    let registration: WorkerRegistration;
    try {
      registration = this.options.registration();
    } catch (error) {
      this.logger.error('computing the worker registration failed', { error });
      return;
    }
    this.send({ type: 'register', registration });
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
    if (wasConnected && notify) this.callback('onMasterLost', () => this.options.onMasterLost(this.key));
  }

  private heartbeat(): void {
    let status: WorkerStatus;
    try {
      status = this.options.status();
    } catch (error) {
      this.logger.error('computing the worker status for a heartbeat failed', { error });
      return;
    }
    this.send({ type: 'heartbeat', state: status.state, runningTasks: status.runningTasks });
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
      case 'welcome': {
        clearTimeout(this.connectTimer);
        const first = this.state !== 'CONNECTED';
        this.state = 'CONNECTED';
        this.master = { masterId: message.masterId, configHash: message.configHash, endpoint: this.key };
        this.delayMs = this.options.reconnect.initialDelayMs;
        this.lastFailure = undefined;
        if (first) {
          this.logger.info(`connected to master ${message.masterId} at ${this.key}`, { configHash: message.configHash });
          this.callback('onWelcome', () => this.options.onWelcome(this.master!));
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
    const delay = Math.round(this.delayMs * (0.8 + Math.random() * 0.4));
    this.delayMs = Math.min(this.delayMs * 2, this.options.reconnect.maxDelayMs);
    if (wasConnected) {
      this.logger.warn(`lost master ${this.master?.masterId ?? ''} at ${this.key}: ${reason}; reconnecting in ${delay} ms`);
      this.callback('onMasterLost', () => this.options.onMasterLost(this.key));
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

  private callback(name: string, run: () => void): void {
    try {
      run();
    } catch (error) {
      this.logger.error(`command channel ${name} callback failed`, { error });
    }
  }
}

function statusOf(registration: WorkerRegistration): WorkerStatus {
  return {
    state: registration.state,
    runningTasks: registration.tasks.filter((task) => isActive(task.state)).map((task) => task.id),
  };
}
