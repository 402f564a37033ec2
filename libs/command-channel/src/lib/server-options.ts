import type { KeyObject } from 'node:crypto';
import type { TlsFiles } from '@shipdeck/config';
import { channelKey } from './channel-auth';
import { Logger } from '@shipdeck/logging';
import type { WorkerSession } from './worker-session';

/** Options of {@link CommandChannelServer}; every default is applied in {@link compileServerOptions}. */
export interface CommandChannelServerOptions {
  /** `server.workerPort`; 0 = any free port (see the port `start()` answers). */
  port: number;
  /** Interface to listen on; default: all. */
  host?: string;
  /** Mutual TLS (`channel.tls.*`): only workers whose certificate chains to the CA get in. Null/absent: plain TCP. */
  tls?: TlsFiles | null;
  /**
   * With mutual TLS, where each worker id's certificate subject is bound at its first registration.
   * Shared by every master (the database), so that no master hands the id to another certificate.
   * @default bindings kept in this server's memory only
   */
  certificateBindings?: CertificateBindings;
  /**
   * The cluster secret (`cluster.secret`): when set, a worker must prove that it knows it (HMAC
   * challenge/response, see channel-auth.ts) before it may register, and the master proves it
   * back in `welcome`. Null/absent: no proof asked (mutual TLS, or an insecure cluster). Never logged.
   */
  secret?: string | null;
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

/** Where the worker id ↔ certificate subject bindings of mutual TLS are kept. */
export interface CertificateBindings {
  /**
   * Binds `workerId` to `subject` unless it is bound already (atomically: two masters binding the
   * same id at once end with one binding); answers the subject the id is bound to now.
   */
  bind(workerId: string, subject: string): Promise<string>;
}

/** Bindings in one process's memory: what a lone master (or a test) needs. */
export class InMemoryCertificateBindings implements CertificateBindings {
  private readonly subjects = new Map<string, string>();

  async bind(workerId: string, subject: string): Promise<string> {
    if (!this.subjects.has(workerId)) this.subjects.set(workerId, subject);
    return this.subjects.get(workerId) as string;
  }
}

/** {@link CommandChannelServerOptions} with every default applied. */
export type CompiledServerOptions = Required<Omit<CommandChannelServerOptions, 'host' | 'tls' | 'secret'>> &
  Pick<CommandChannelServerOptions, 'host'> & { tls: TlsFiles | null; channelKey: KeyObject | null };

export const DEFAULT_COMMAND_TIMEOUT_MS = 10_000;
export const DEFAULT_REGISTER_TIMEOUT_MS = 10_000;

export function compileServerOptions(options: CommandChannelServerOptions): CompiledServerOptions {
  // Only the derived key is kept: the secret itself stays out of the compiled options.
  const { secret, ...rest } = options;
  return {
    ...rest,
    channelKey: secret ? channelKey(secret) : null,
    tls: options.tls ?? null,
    certificateBindings: options.certificateBindings ?? new InMemoryCertificateBindings(),
    commandTimeoutMs: options.commandTimeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
    registerTimeoutMs: options.registerTimeoutMs ?? DEFAULT_REGISTER_TIMEOUT_MS,
    onUpdate: options.onUpdate ?? (() => undefined),
    onClose: options.onClose ?? (() => undefined),
  };
}
