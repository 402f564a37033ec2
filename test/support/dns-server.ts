/**
 * A DNS server on loopback for the discovery tests (issue 4): answers the SRV and A records of
 * the masters from a zone the test changes while workers run, with TTL 0 so nothing is cached.
 */
import DNS from 'dns2';

const { Packet } = DNS;
/** Response codes (RFC 1035 §4.1.1); this dns2 version does not name them. */
const RCODE = { SERVFAIL: 2, NXDOMAIN: 3 } as const;

/** What the server answers; mutable. */
export interface Zone {
  /** SRV name (lower case) → its records (target name, port). */
  srv: Record<string, { target: string; port: number }[]>;
  /** A records: name (lower case) → IPv4 address. */
  a: Record<string, string>;
  /** Answer SERVFAIL to everything (a DNS outage). */
  failing?: boolean;
}

export interface TestDns {
  /** `127.0.0.1:PORT`, for `worker.dnsServers`. */
  address: string;
  /** Questions asked so far, `TYPE name`. */
  queries: string[];
  close(): Promise<void>;
}

/** Starts the server on 127.0.0.1, a random UDP port. */
export async function startDns(zone: Zone): Promise<TestDns> {
  const queries: string[] = [];
  const server = DNS.createServer({
    udp: true,
    handle: (request, send) => {
      const response = Packet.createResponseFromRequest(request);
      const [question] = request.questions;
      if (!question) return void send(response);
      const name = question.name.toLowerCase();
      queries.push(`${question.type} ${name}`);
      if (zone.failing) {
        response.header.rcode = RCODE.SERVFAIL;
        return void send(response);
      }
      if (question.type === Packet.TYPE.SRV && zone.srv[name]) {
        for (const record of zone.srv[name]) {
          response.answers.push({
            name: question.name,
            type: Packet.TYPE.SRV,
            class: Packet.CLASS.IN,
            ttl: 0,
            priority: 10,
            weight: 10,
            port: record.port,
            target: record.target,
          } as unknown as DNS.Packet.Resource);
        }
      } else if (question.type === Packet.TYPE.A && zone.a[name]) {
        response.answers.push({
          name: question.name,
          type: Packet.TYPE.A,
          class: Packet.CLASS.IN,
          ttl: 0,
          address: zone.a[name],
        } as unknown as DNS.Packet.Resource);
      } else if (!(name in zone.a) && !(name in zone.srv)) {
        response.header.rcode = RCODE.NXDOMAIN;
      }
      void send(response);
    },
  });
  const addresses = await server.listen({ udp: { port: 0, address: '127.0.0.1' } });
  return { address: `127.0.0.1:${addresses.udp!.port}`, queries, close: () => server.close() };
}
