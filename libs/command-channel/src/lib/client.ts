import { ConfigError } from '@shipdeck/errors';
import { backoffDelayMs } from '@shipdeck/lifecycle';
import { Logger } from '@shipdeck/logging';
import { CommandChannelClientOptions, CompiledClientOptions, MasterStatus, compileClientOptions } from './client-options';
import { Endpoint, endpointKey, isDnsDiscovery, resolveMasters } from './discovery';
import { MasterLink } from './master-link';
import { TlsMaterial, readTlsFiles } from './tls-files';

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
  /** Resolutions in a row that found no master: they are retried with backoff, sooner than the regular interval. */
  private emptyResolutions = 0;
  private closing: Promise<void> | undefined;

  constructor(options: CommandChannelClientOptions) {
    this.options = compileClientOptions(options);
    this.logger = options.logger;
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
    let delay = this.options.resolveIntervalMs;
    if (this.links.size === 0) {
      // With no master at all, try again sooner than the regular interval.
      delay = backoffDelayMs(this.emptyResolutions++, { initialDelayMs: this.options.reconnect.initialDelayMs, maxDelayMs: delay });
    } else {
      this.emptyResolutions = 0;
    }
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
