import { Server, createServer, RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { ErrorCode } from '@shipdeck/errors';

/** The PEM certificate and key an HTTPS server presents. */
export interface HttpsMaterial {
  cert: Buffer;
  key: Buffer;
}

/** A listening HTTP(S) server whose `close` also ends idle keep-alive connections. */
export interface ListeningServer {
  server: Server;
  port: number;
  /** `https` when it was given {@link HttpsMaterial}. */
  scheme: 'http' | 'https';
  close(): Promise<void>;
}

/**
 * Listens on `port` (0 = any free port), over TLS when given `tls`; rejects with a clear message when the port is taken.
 * Requests that are not HTTP enough to reach `handler` (request line or headers over Node's
 * limit, bad syntax) are answered in the API's error shape too, instead of Node's empty default.
 */
export function listenHttp(handler: RequestListener, port: number, host?: string, tls?: HttpsMaterial): Promise<ListeningServer> {
  // An https.Server is an http.Server over TLS: the same request events, parser and limits.
  const server = tls ? (createHttpsServer({ cert: tls.cert, key: tls.key }, handler) as unknown as Server) : createServer(handler);
  server.on('clientError', answerClientError);
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
        scheme: tls ? 'https' : 'http',
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/**
 * Answers a request Node's HTTP parser refused: 431 for a request line or headers over the
 * limit, 400 for anything else, with a JSON body of the REST API's error shape (spec §6). The
 * request's own bytes are never echoed.
 */
export function answerClientError(error: Error & { code?: string; rawPacket?: Buffer }, socket: Duplex): void {
  // While a response is under way on this connection (the parser choked on bytes of a request
  // that was answered without reading its body, say), an answer would be read as part of that
  // response: close instead. Node's own default handler makes the same check.
  const inFlight = (socket as Duplex & { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
  if (error.code === 'ECONNRESET' || !socket.writable || inFlight?.headersSent) {
    socket.destroy();
    return;
  }
  const tooLarge = error.code === 'HPE_HEADER_OVERFLOW';
  const status = tooLarge ? '431 Request Header Fields Too Large' : '400 Bad Request';
  const body = JSON.stringify({
    error: tooLarge
      ? { code: ErrorCode.PAYLOAD_TOO_LARGE, message: 'the request line and headers are larger than the server accepts', details: [] }
      : { code: ErrorCode.VALIDATION_FAILED, message: 'malformed HTTP request', details: [] },
  });
  // A HEAD answer has no body; its Content-Length tells what a GET would get.
  const head = error.rawPacket?.subarray(0, 5).toString('latin1') === 'HEAD ';
  socket.end(
    `HTTP/1.1 ${status}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${head ? '' : body}`,
  );
}
