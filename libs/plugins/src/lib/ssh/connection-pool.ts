import { createHash } from 'node:crypto';
import { SshHostConfig } from './host-config';
import { ConnectOptions, SshConnection } from './connection';

/** A connection lent to one step; give it back with {@link SshLease.release} when the step is done. */
export interface SshLease {
  readonly connection: SshConnection;
  /** Returns the connection to the pool (or closes it when it was lost); idempotent. */
  release(): void;
}

/** What a step asks the pool for. */
export interface LeaseRequest extends ConnectOptions {
  config: SshHostConfig;
  /** Receives a line when the step has to wait for a free connection. */
  log(text: string): void;
}

interface Waiter {
  resolve(lease: SshLease): void;
  reject(error: Error): void;
  request: LeaseRequest;
}

interface HostConnections {
  key: string;
  config: SshHostConfig;
  /** `stop` ends the idle period: clears the idle timer and the lost-listener. */
  idle: { connection: SshConnection; stop(): void }[];
  /** Lent out or being opened; with `idle`, never more than `config.maxConnections`. */
  busy: number;
  waiters: Waiter[];
}

/**
 * The SSH connections of one worker, per host: a step borrows a connection for its duration and
 * gives it back, so the steps of a task (and of other tasks) on the same host share a handful of
 * handshakes. At most `maxConnections` per host exist at once; further steps wait. A connection
 * unused for `idleTimeout` is closed, and idle connections do not keep the process alive.
 *
 * Hosts are keyed by name and by a hash of their configuration, so a changed host definition gets
 * fresh connections rather than ones authenticated with the old settings.
 */
export class SshConnectionPool {
  private readonly hosts = new Map<string, HostConnections>();
  private opened = 0;

  /** How many connections this pool has opened (each is one SSH handshake), for tests and metrics. */
  get handshakes(): number {
    return this.opened;
  }

  /**
   * A connection to the host, reused when one is idle, opened when the host's limit allows,
   * otherwise the next one given back.
   *
   * @throws Error when connecting fails or `request.signal` aborts while waiting or connecting.
   */
  lease(request: LeaseRequest): Promise<SshLease> {
    request.signal.throwIfAborted();
    const key = poolKey(request.hostName, request.config);
    let host = this.hosts.get(key);
    if (!host) {
      host = { key, config: request.config, idle: [], busy: 0, waiters: [] };
      this.hosts.set(key, host);
    }
    const entry = host;
    return new Promise<SshLease>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, request };
      entry.waiters.push(waiter);
      if (!this.serve(entry)) {
        request.log(`waiting for a free connection to ${request.hostName} (at most ${entry.config.maxConnections} at once)\n`);
        const onAbort = () => {
          const at = entry.waiters.indexOf(waiter);
          if (at >= 0) {
            entry.waiters.splice(at, 1);
            reject(new Error(`aborted while waiting for a connection to ${request.hostName}`));
          }
        };
        request.signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }

  /** Closes every idle connection; connections in use are closed when given back. */
  close(): void {
    for (const host of this.hosts.values()) {
      for (const { connection, stop } of host.idle.splice(0)) {
        stop();
        connection.close();
      }
    }
  }

  /** Hands out connections to waiters while there are idle ones or room for new ones; answers whether the newest waiter was served. */
  private serve(host: HostConnections): boolean {
    const newest = host.waiters[host.waiters.length - 1];
    let servedNewest = false;
    while (host.waiters.length > 0) {
      const idle = host.idle.pop();
      if (idle) {
        idle.stop();
        const waiter = host.waiters.shift() as Waiter;
        servedNewest ||= waiter === newest;
        host.busy++;
        waiter.resolve(this.lend(host, idle.connection));
        continue;
      }
      if (host.busy >= host.config.maxConnections) break;
      const waiter = host.waiters.shift() as Waiter;
      servedNewest ||= waiter === newest;
      host.busy++;
      SshConnection.open(host.config, waiter.request).then(
        (connection) => {
          this.opened++;
          waiter.resolve(this.lend(host, connection));
        },
        (error: Error) => {
          host.busy--;
          waiter.reject(error);
          this.serve(host);
        },
      );
    }
    this.forgetIfUnused(host);
    return servedNewest;
  }

  /** Drops a host's entry once nothing uses it, so that hosts seen once do not accumulate. */
  private forgetIfUnused(host: HostConnections): void {
    if (host.busy === 0 && host.idle.length === 0 && host.waiters.length === 0 && this.hosts.get(host.key) === host) {
      this.hosts.delete(host.key);
    }
  }

  private lend(host: HostConnections, connection: SshConnection): SshLease {
    connection.holdProcess(true);
    let released = false;
    return {
      connection,
      release: () => {
        if (released) return;
        released = true;
        host.busy--;
        if (connection.lost === undefined) this.keepIdle(host, connection);
        else connection.close();
        this.serve(host);
      },
    };
  }

  private keepIdle(host: HostConnections, connection: SshConnection): void {
    connection.holdProcess(false);
    const leave = () => {
      const at = host.idle.findIndex((entry) => entry.connection === connection);
      if (at >= 0) host.idle.splice(at, 1)[0].stop();
      connection.close();
      this.forgetIfUnused(host);
    };
    const timer = setTimeout(leave, host.config.idleTimeoutMs);
    timer.unref();
    const unsubscribe = connection.onLost(leave);
    host.idle.push({
      connection,
      stop: () => {
        clearTimeout(timer);
        unsubscribe();
      },
    });
  }
}

function poolKey(hostName: string, config: SshHostConfig): string {
  // Hashed so that the secrets in the configuration never appear in a map key or a heap dump's strings.
  return `${hostName}#${createHash('sha256').update(JSON.stringify(config)).digest('hex')}`;
}

/** The pool of this process: every step on an `ssh` host borrows from it. */
export const sshConnections = new SshConnectionPool();
