/**
 * A small TCP proxy (node:net) for fault injection: put it between processes and a service (e.g.
 * PostgreSQL) and `cut(ms)` makes the service unreachable for a while: every open connection is
 * destroyed and new ones are refused (nobody listens on the port), then the proxy accepts again
 * on the same port.
 *
 * ```ts
 * const proxy = await startTcpProxy({ targetHost: '127.0.0.1', targetPort: 5432 });
 * // processes connect to 127.0.0.1:proxy.port
 * await proxy.cut(4_000);   // resolves once it accepts again
 * await proxy.close();
 * ```
 */
import { AddressInfo, Server, Socket, createServer, connect } from 'node:net';

export interface TcpProxyOptions {
  targetHost: string;
  targetPort: number;
  /** Where the proxy listens; default 127.0.0.1 on a free port. */
  host?: string;
  port?: number;
}

export interface TcpProxy {
  readonly host: string;
  readonly port: number;
  /** Connections accepted since the start (for reports). */
  readonly accepted: number;
  /** Open client connections right now. */
  readonly open: number;
  /** Whether a cut is under way (nobody listens). */
  readonly down: boolean;
  /** Destroys every open connection and refuses new ones for `ms`; resolves once it listens again. */
  cut(ms: number): Promise<void>;
  /** Stops listening and destroys every connection. Idempotent. */
  close(): Promise<void>;
}

export async function startTcpProxy(options: TcpProxyOptions): Promise<TcpProxy> {
  const host = options.host ?? '127.0.0.1';
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  let accepted = 0;
  let down = false;
  let closed = false;
  let server: Server | undefined;

  const handle = (client: Socket) => {
    accepted++;
    const upstream = connect({ host: options.targetHost, port: options.targetPort });
    const pair = { client, upstream };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end);
    upstream.on('error', end);
    client.on('close', end);
    upstream.on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  };

  const listen = (port: number) =>
    new Promise<Server>((resolve, reject) => {
      const s = createServer(handle);
      s.once('error', reject);
      s.listen(port, host, () => {
        s.off('error', reject);
        resolve(s);
      });
    });

  const stopListening = () =>
    new Promise<void>((resolve) => {
      const s = server;
      server = undefined;
      if (!s) return resolve();
      // close() stops accepting at once; its callback waits for the connections destroyed below.
      s.close(() => resolve());
      destroyAll();
    });

  const destroyAll = () => {
    for (const { client, upstream } of [...pairs]) {
      client.destroy();
      upstream.destroy();
    }
    pairs.clear();
  };

  server = await listen(options.port ?? 0);
  const port = (server.address() as AddressInfo).port;

  return {
    host,
    port,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    get down() {
      return down;
    },
    async cut(ms: number) {
      if (closed) throw new Error('the proxy is closed');
      if (down) throw new Error('the proxy is already cut');
      down = true;
      try {
        await stopListening();
        await new Promise((resolve) => setTimeout(resolve, ms));
        // Someone may grab the port in between (unlikely on loopback): try a few times.
        for (let attempt = 0; ; attempt++) {
          try {
            server = await listen(port);
            return;
          } catch (error) {
            if (attempt >= 20 || (error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
        }
      } finally {
        down = false;
      }
    },
    async close() {
      if (closed) return;
      closed = true;
      await stopListening();
      destroyAll();
    },
  };
}
