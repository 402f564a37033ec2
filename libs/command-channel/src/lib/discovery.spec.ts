import { ConfigError } from '@shipdeck/errors';
import { DnsResolver, endpointKey, isDnsDiscovery, parseMasterFlag, resolveMasters } from './discovery';

/** A resolver answering from fixed records; missing names fail the way c-ares does. */
function fakeResolver(records: {
  srv?: Record<string, { name: string; port: number; priority?: number; weight?: number }[]>;
  a?: Record<string, string[]>;
  aaaa?: Record<string, string[]>;
  fail?: string;
}): DnsResolver & { queries: string[] } {
  const queries: string[] = [];
  const answer = <T>(kind: string, table: Record<string, T[]> | undefined, name: string): Promise<T[]> => {
    queries.push(`${kind} ${name}`);
    if (records.fail) return Promise.reject(Object.assign(new Error(`query${kind} ETIMEOUT ${name}`), { code: records.fail }));
    const found = table?.[name];
    return found ? Promise.resolve(found) : Promise.reject(Object.assign(new Error(`query${kind} ENODATA ${name}`), { code: 'ENODATA' }));
  };
  return {
    queries,
    resolveSrv: (name) =>
      answer('Srv', records.srv, name).then((list) => list.map((r) => ({ priority: 10, weight: 5, ...r }))),
    resolve4: (name) => answer('A', records.a, name),
    resolve6: (name) => answer('Aaaa', records.aaaa, name),
  };
}

describe('parseMasterFlag', () => {
  it.each([
    ['master-1:8180', { host: 'master-1', port: 8180 }],
    ['10.0.0.2:9000', { host: '10.0.0.2', port: 9000 }],
    ['[::1]:8180', { host: '::1', port: 8180 }],
    ['::1', { host: '::1' }],
    ['masters.shipdeck.svc', { host: 'masters.shipdeck.svc' }],
    ['_shipdeck._tcp.masters.test', { host: '_shipdeck._tcp.masters.test' }],
    [' 10.0.0.2 ', { host: '10.0.0.2' }],
  ])('%s', (flag, expected) => {
    expect(parseMasterFlag(flag)).toEqual(expected);
  });

  it.each([
    ['', 'must be HOST:PORT or a DNS name'],
    ['master:0', 'port must be an integer between 1 and 65535 (got "0")'],
    ['master:70000', 'port must be an integer between 1 and 65535'],
    ['master:http', 'port must be an integer'],
    ['http://master:8180', 'must be HOST:PORT'],
    ['[master]:8180', 'only an IPv6 address may stand in brackets'],
  ])('refuses %j', (flag, message) => {
    expect(() => parseMasterFlag(flag)).toThrow(ConfigError);
    expect(() => parseMasterFlag(flag)).toThrow(message);
  });
});

describe('isDnsDiscovery', () => {
  it('is one name without a port', () => {
    expect(isDnsDiscovery(['masters.test'])).toBe(true);
    expect(isDnsDiscovery(['masters.test:8180'])).toBe(false);
    expect(isDnsDiscovery(['10.0.0.2'])).toBe(false);
    expect(isDnsDiscovery(['::1'])).toBe(false);
    expect(isDnsDiscovery(['a.test', 'b.test'])).toBe(false);
  });
});

describe('resolveMasters', () => {
  it('takes host:port entries as a static list, without asking DNS', async () => {
    const resolver = fakeResolver({});
    const endpoints = await resolveMasters(['m1:8180', '10.0.0.3:9000', '[::1]:8181', 'm1:8180'], { defaultPort: 1, resolver });
    expect(endpoints).toEqual([
      { host: 'm1', port: 8180 },
      { host: '10.0.0.3', port: 9000 },
      { host: '::1', port: 8181 },
    ]);
    expect(endpoints.map(endpointKey)).toEqual(['m1:8180', '10.0.0.3:9000', '[::1]:8181']);
    expect(resolver.queries).toEqual([]);
  });

  it('gives entries without a port the default port in a static list, and a single IP address too', async () => {
    const resolver = fakeResolver({});
    expect(await resolveMasters(['m1', 'm2:9000'], { defaultPort: 8180, resolver })).toEqual([
      { host: 'm1', port: 8180 },
      { host: 'm2', port: 9000 },
    ]);
    expect(await resolveMasters(['10.0.0.2'], { defaultPort: 8180, resolver })).toEqual([{ host: '10.0.0.2', port: 8180 }]);
    expect(resolver.queries).toEqual([]);
  });

  it('lists every master of the SRV records, targets resolved to their addresses, by priority', async () => {
    const resolver = fakeResolver({
      srv: {
        '_shipdeck._tcp.masters.test': [
          { name: 'm2.masters.test', port: 9002, priority: 20 },
          { name: 'm1.masters.test', port: 9001, priority: 10 },
          { name: '10.0.0.9', port: 9009, priority: 30 },
        ],
      },
      a: { 'm1.masters.test': ['10.0.0.1'], 'm2.masters.test': ['10.0.0.2'] },
      aaaa: { 'm2.masters.test': ['fd00::2'] },
    });
    expect(await resolveMasters(['_shipdeck._tcp.masters.test'], { defaultPort: 8180, resolver })).toEqual([
      { host: '10.0.0.1', port: 9001, name: 'm1.masters.test' },
      { host: '10.0.0.2', port: 9002, name: 'm2.masters.test' },
      { host: 'fd00::2', port: 9002, name: 'm2.masters.test' },
      { host: '10.0.0.9', port: 9009 },
    ]);
  });

  it('leaves an SRV target that DNS cannot resolve to the system resolver', async () => {
    const resolver = fakeResolver({ srv: { 'masters.test': [{ name: 'm1.internal.', port: 9001 }] } });
    expect(await resolveMasters(['masters.test'], { defaultPort: 8180, resolver })).toEqual([
      { host: 'm1.internal', port: 9001, name: 'm1.internal' },
    ]);
  });

  it('falls back to A and AAAA records (one master) on the default port', async () => {
    const resolver = fakeResolver({ a: { 'master.test': ['10.0.0.5'] }, aaaa: { 'master.test': ['fd00::5'] } });
    expect(await resolveMasters(['master.test'], { defaultPort: 8180, resolver })).toEqual([
      { host: '10.0.0.5', port: 8180, name: 'master.test' },
      { host: 'fd00::5', port: 8180, name: 'master.test' },
    ]);
    expect(resolver.queries).toEqual(['Srv master.test', 'A master.test', 'Aaaa master.test']);
  });

  it('fails when the name has no record at all, or DNS does not answer', async () => {
    await expect(resolveMasters(['nothing.test'], { defaultPort: 8180, resolver: fakeResolver({}) })).rejects.toThrow(
      'DNS has no SRV, A or AAAA record for nothing.test',
    );
    await expect(
      resolveMasters(['masters.test'], { defaultPort: 8180, resolver: fakeResolver({ fail: 'ETIMEOUT' }) }),
    ).rejects.toMatchObject({ code: 'ETIMEOUT' });
  });

  it('refuses an empty list and bad flags with a ConfigError', async () => {
    await expect(resolveMasters([], { defaultPort: 8180 })).rejects.toThrow('no master given');
    await expect(resolveMasters(['m1:x'], { defaultPort: 8180 })).rejects.toBeInstanceOf(ConfigError);
  });

  it('resolves localhost through the system resolver when no DNS server is configured', async () => {
    const endpoints = await resolveMasters(['localhost'], { defaultPort: 8180 });
    expect(endpoints.length).toBeGreaterThan(0);
    for (const endpoint of endpoints) expect(endpoint).toMatchObject({ port: 8180, name: 'localhost' });
  });
});
