import { promises as dns } from 'node:dns';
import { isIP } from 'node:net';
import { ConfigError } from '@shipdeck/errors';

/** A master's command channel address. */
export interface Endpoint {
  /** What to connect to: an IP address or a host name. */
  host: string;
  port: number;
  /** The DNS name the address was found under (an SRV target or the `-master` name): the TLS server name. */
  name?: string;
}

/** The subset of `dns.promises.Resolver` that discovery uses (tests may pass a fake). */
export interface DnsResolver {
  resolveSrv(name: string): Promise<{ name: string; port: number; priority: number; weight: number }[]>;
  resolve4(name: string): Promise<string[]>;
  resolve6(name: string): Promise<string[]>;
}

/** Options of {@link resolveMasters}. */
export interface ResolveMastersOptions {
  /** The port of entries without one (`server.workerPort`). */
  defaultPort: number;
  /** DNS servers (`ip` or `ip:port`) to ask instead of the system's; empty or absent: the system resolver. */
  dnsServers?: readonly string[];
  /** Replaces the `dns.promises.Resolver` (tests). */
  resolver?: DnsResolver;
}

/** One `-master` flag, read: a host and, when given, a port. */
export interface MasterFlag {
  host: string;
  port?: number;
}

/** `host:port` of an endpoint, IPv6 in brackets: `10.0.0.2:8180`, `[::1]:8180`. Identifies it. */
export function endpointKey(endpoint: Pick<Endpoint, 'host' | 'port'>): string {
  return `${isIP(endpoint.host) === 6 ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}

/**
 * Reads one `-master` value: `host:port`, `[ipv6]:port`, or a bare `host` / IPv6 address (no
 * port). Throws a {@link ConfigError} naming the value when it is none of these.
 */
export function parseMasterFlag(value: string): MasterFlag {
  const flag = value.trim();
  const invalid = (why: string) =>
    new ConfigError(`invalid -master ${JSON.stringify(value)}: ${why}`, [{ field: '-master', message: why }]);
  if (flag === '') throw invalid('must be HOST:PORT or a DNS name');
  if (isIP(flag) === 6) return { host: flag };
  const match = /^(?:\[([^\]]+)\]|([^\s:/[\]]+))(?::([^:]*))?$/.exec(flag);
  if (!match) throw invalid('must be HOST:PORT, [IPV6]:PORT or a DNS name');
  if (match[1] !== undefined && isIP(match[1]) !== 6) throw invalid('only an IPv6 address may stand in brackets');
  const host = match[1] ?? match[2]!;
  if (match[3] === undefined) return { host };
  const port = /^\d{1,5}$/.test(match[3]) ? Number(match[3]) : NaN;
  if (!(port >= 1 && port <= 65535)) throw invalid(`port must be an integer between 1 and 65535 (got ${JSON.stringify(match[3])})`);
  return { host, port };
}

/**
 * Whether `masters` name the masters by DNS (spec §4): exactly one entry, without a port, that is
 * not an IP address. Such a set is re-resolved periodically; any other is a static list.
 */
export function isDnsDiscovery(masters: readonly string[]): boolean {
  if (masters.length !== 1) return false;
  const flag = parseMasterFlag(masters[0]!);
  return flag.port === undefined && isIP(flag.host) === 0;
}

/**
 * The masters a worker connects to (spec §4). Entries with a port are taken as given (several
 * `-master` flags make a static list; an entry without a port among several gets `defaultPort`).
 * One entry without a port is a DNS name: its SRV records list every master (`target:port` each,
 * targets resolved to addresses through the same DNS servers); without SRV records, its A and AAAA
 * records give the addresses of a single master on `defaultPort`. Throws a {@link ConfigError} for
 * bad flags, and the DNS error when the name cannot be resolved at all.
 */
export async function resolveMasters(masters: readonly string[], options: ResolveMastersOptions): Promise<Endpoint[]> {
  if (masters.length === 0) {
    throw new ConfigError('no master given: pass -master HOST:PORT (repeatable) or one -master DNS-NAME', [
      { field: '-master', message: 'required' },
    ]);
  }
  const flags = masters.map(parseMasterFlag);
  if (!isDnsDiscovery(masters)) {
    return unique(flags.map((flag) => ({ host: flag.host, port: flag.port ?? options.defaultPort })));
  }
  const name = flags[0]!.host;
  const dnsServers = options.dnsServers ?? [];
  const resolver = options.resolver ?? systemResolver(dnsServers);

  const srv = await orNone(resolver.resolveSrv(name));
  if (srv.length > 0) {
    const ordered = [...srv].sort((a, b) => a.priority - b.priority || b.weight - a.weight || a.name.localeCompare(b.name));
    const endpoints: Endpoint[] = [];
    for (const record of ordered) {
      const target = record.name.replace(/\.$/, '');
      if (isIP(target) !== 0) {
        endpoints.push({ host: target, port: record.port });
        continue;
      }
      const addresses = await addressesOf(resolver, target);
      // A target the DNS servers cannot resolve is left to the system resolver when connecting.
      if (addresses.length === 0) endpoints.push({ host: target, port: record.port, name: target });
      for (const address of addresses) endpoints.push({ host: address, port: record.port, name: target });
    }
    return unique(endpoints);
  }

  let addresses = await addressesOf(resolver, name);
  if (addresses.length === 0 && dnsServers.length === 0 && !options.resolver) {
    // The system resolver also knows names that DNS does not (/etc/hosts, e.g. localhost).
    addresses = (await orNone(dns.lookup(name, { all: true }))).map((a) => a.address);
  }
  if (addresses.length === 0) {
    const error = new Error(`DNS has no SRV, A or AAAA record for ${name}`) as NodeJS.ErrnoException;
    error.code = 'ENOTFOUND';
    throw error;
  }
  return unique(addresses.map((address) => ({ host: address, port: options.defaultPort, name })));
}

function systemResolver(dnsServers: readonly string[]): DnsResolver {
  const resolver = new dns.Resolver({ timeout: 2000, tries: 2 });
  if (dnsServers.length > 0) resolver.setServers([...dnsServers]);
  return resolver;
}

async function addressesOf(resolver: DnsResolver, name: string): Promise<string[]> {
  const [v4, v6] = await Promise.all([orNone(resolver.resolve4(name)), orNone(resolver.resolve6(name))]);
  return [...v4, ...v6];
}

/** DNS answers "no such name" and "no such record" are an empty answer; other failures are errors. */
async function orNone<T>(query: Promise<T[]>): Promise<T[]> {
  try {
    return await query;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENODATA' || code === 'ENOTFOUND' || code === 'NOTFOUND' || code === 'NODATA') return [];
    throw error;
  }
}

function unique(endpoints: Endpoint[]): Endpoint[] {
  const seen = new Map<string, Endpoint>();
  for (const endpoint of endpoints) if (!seen.has(endpointKey(endpoint))) seen.set(endpointKey(endpoint), endpoint);
  return [...seen.values()];
}
