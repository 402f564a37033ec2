import { Server, createServer, RequestListener } from 'node:http';

/** A listening HTTP server whose `close` also ends idle keep-alive connections. */
export interface ListeningServer {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/** Listens on `port` (0 = any free port); rejects with a clear message when the port is taken. */
export function listenHttp(handler: RequestListener, port: number, host?: string): Promise<ListeningServer> {
  const server = createServer(handler);
  return new Promise((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        error.code === 'EADDRINUSE'
          ? new Error(`port ${port} is already in use: stop what uses it or choose another port`)
          : error,
      );
    });
    server.listen(port, host, () => {
      const address = server.address();
      const actual = typeof address === 'object' && address ? address.port : port;
      resolve({
        server,
        port: actual,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}
