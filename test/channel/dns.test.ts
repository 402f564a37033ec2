import DNS from 'dns2';
import { Zone, startDns } from '../support/dns-server';
import { holdsFor, pollUntil } from '../support/poll';
import { TestMaster, TestWorker, sessionOf, startMaster, startWorker } from './support';

const { Packet } = DNS;
const SRV_NAME = '_shipdeck._tcp.masters.test';

jest.setTimeout(30_000);

const cleanups: (() => Promise<unknown> | unknown)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function master(): Promise<TestMaster> {
  const m = await startMaster();
  cleanups.push(() => m.server.close());
  return m;
}

async function worker(masters: string[], overrides: Parameters<typeof startWorker>[1]): Promise<TestWorker> {
  const w = await startWorker(masters, overrides);
  cleanups.push(() => w.client.close());
  return w;
}

describe('command channel: masters found by DNS', () => {
  it('follows the SRV record: connects to masters that appear, drops those that disappear', async () => {
    const a = await master();
    const b = await master();
    const zone: Zone = {
      srv: { [SRV_NAME]: [{ target: 'master-a.masters.test', port: a.port }] },
      a: { 'master-a.masters.test': '127.0.0.1', 'master-b.masters.test': '127.0.0.1' },
      failing: false,
    };
    const dns = await startDns(zone);
    cleanups.push(() => dns.close());
    const w = await worker([SRV_NAME], { dnsServers: [dns.address], resolveIntervalMs: 200 });
    const endpointA = `127.0.0.1:${a.port}`;
    const endpointB = `127.0.0.1:${b.port}`;

    // One master listed: the worker registers with it only.
    await sessionOf(a, w.workerId);
    expect(w.client.masters().map((m) => m.endpoint)).toEqual([endpointA]);
    expect(b.registered).toEqual([]);

    // Two: it connects to the new one as well.
    zone.srv[SRV_NAME] = [...zone.srv[SRV_NAME], { target: 'master-b.masters.test', port: b.port }];
    await sessionOf(b, w.workerId, 5_000);
    await pollUntil(() => w.client.masters().filter((m) => m.connected).length === 2, {
      timeoutMs: 5_000,
      describe: () => JSON.stringify(w.client.masters()),
    });
    expect(w.log.has(new RegExp(`new masters listed, connecting to ${endpointB}`), 'info')).toBe(true);

    // A DNS outage changes nothing: the worker keeps both and warns.
    zone.failing = true;
    await pollUntil(() => w.log.has(/cannot resolve the masters _shipdeck\._tcp\.masters\.test: .*keeping/, 'warn'), {
      timeoutMs: 10_000,
      describe: () => w.log.dump(),
    });
    expect(w.client.masters().filter((m) => m.connected)).toHaveLength(2);
    expect(a.closed).toEqual([]);
    zone.failing = false;

    // Only the other one: the worker leaves the first and does not come back to it.
    zone.srv[SRV_NAME] = [{ target: 'master-b.masters.test', port: b.port }];
    await pollUntil(() => a.closed.length === 1, { timeoutMs: 5_000, describe: () => `${a.log.dump()}\n${w.log.dump()}` });
    expect(a.closed[0]!.reason).toBe('closed by the worker: master no longer listed');
    expect(w.lost).toEqual([endpointA]);
    expect(w.client.masters()).toEqual([expect.objectContaining({ endpoint: endpointB, connected: true })]);
    expect(w.log.has(new RegExp(`master ${endpointA} is no longer listed by ${SRV_NAME}: disconnecting`), 'info')).toBe(true);
    await holdsFor(
      () => a.registered.length === 1 && b.server.session(w.workerId)?.open === true,
      800,
      () => `the dropped master got the worker back, or the kept one lost it\n${w.log.dump()}`,
    );
    expect(b.closed).toEqual([]);
    expect(dns.queries).toContain(`${Packet.TYPE.SRV} ${SRV_NAME}`);
  });

  it('uses the A record of a name without SRV records: one master on the default port', async () => {
    const m = await master();
    const dns = await startDns({ srv: {}, a: { 'single.masters.test': '127.0.0.1' } });
    cleanups.push(() => dns.close());
    const w = await worker(['single.masters.test'], { dnsServers: [dns.address], defaultPort: m.port, resolveIntervalMs: 200 });
    await sessionOf(m, w.workerId);
    expect(w.client.masters()).toEqual([expect.objectContaining({ endpoint: `127.0.0.1:${m.port}` })]);
    expect(dns.queries).toEqual(expect.arrayContaining([`${Packet.TYPE.SRV} single.masters.test`, `${Packet.TYPE.A} single.masters.test`]));
  });
});
