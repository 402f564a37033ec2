import type { KeyObject } from 'node:crypto';
import type { TlsFiles } from '@shipdeck/config';
import { ConfigError } from '@shipdeck/errors';
import { Logger } from '@shipdeck/logging';
import { channelKey } from './channel-auth';
import type { DnsResolver } from './discovery';
import { CommandReply, WorkerCommand, WorkerRegistration, WorkerRunState, activeTaskIds } from './protocol';

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
  /**
   * The cluster secret (`cluster.secret`): when set, the worker proves to every master that it
   * knows it, and trusts only masters that prove it back (see channel-auth.ts). Never logged.
   */
  secret?: string | null;
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
  extends Required<Omit<CommandChannelClientOptions, 'tls' | 'secret' | 'resolver' | 'onWelcome' | 'onMasterLost'>> {
  tls: TlsFiles | null;
  /** Derived from the cluster secret, which itself is not kept. */
  channelKey: KeyObject | null;
  resolver?: DnsResolver;
  onWelcome(master: MasterInfo): void;
  onMasterLost(endpoint: string): void;
}

export function compileClientOptions(options: CommandChannelClientOptions): CompiledClientOptions {
  const reconnect = options.reconnect ?? { initialDelayMs: 500, maxDelayMs: 10_000 };
  if (!(reconnect.initialDelayMs > 0 && reconnect.maxDelayMs >= reconnect.initialDelayMs)) {
    throw new ConfigError('command channel reconnect delays must be positive, the maximum at least the initial one');
  }
  const { secret, ...rest } = options;
  return {
    ...rest,
    channelKey: secret ? channelKey(secret) : null,
    dnsServers: options.dnsServers ?? [],
    tls: options.tls ?? null,
    status: options.status ?? (() => statusOf(options.registration())),
    reconnect,
    connectTimeoutMs: options.connectTimeoutMs ?? 10_000,
    onWelcome: options.onWelcome ?? (() => undefined),
    onMasterLost: options.onMasterLost ?? (() => undefined),
  };
}

function statusOf(registration: WorkerRegistration): WorkerStatus {
  return {
    state: registration.state,
    runningTasks: activeTaskIds(registration),
  };
}
