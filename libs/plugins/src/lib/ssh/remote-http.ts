import { ClientRequest, IncomingMessage, request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Duplex } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { errorMessage, errorMessageWithCause } from '../error-text';
import { SshConnection } from './connection';

const MAX_REDIRECTS = 5;

/** One GET as the remote host sees the network, for `http.Check` with `from: target`. */
export interface RemoteGet {
  url: string;
  timeoutMs: number;
  /** Answer a redirect status as it is instead of following it. */
  manualRedirect: boolean;
  signal: AbortSignal;
}

/** A TCP connection opened by the remote host (an SSH direct-tcpip channel). */
function remoteSocket(connection: SshConnection, host: string, port: number): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    try {
      connection.client.forwardOut('127.0.0.1', 0, host, port, (error, channel) => {
        if (error) reject(new Error(`${connection.hostName} cannot connect to ${host}:${port}: ${errorMessage(error)}`));
        else resolve(channel);
      });
    } catch (error) {
      reject(new Error(`${connection.hostName} cannot connect to ${host}:${port}: ${errorMessage(error)}`));
    }
  });
}

function getOnce(connection: SshConnection, url: URL, signal: AbortSignal): Promise<IncomingMessage> {
  const secure = url.protocol === 'https:';
  const port = Number(url.port || (secure ? 443 : 80));
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return new Promise((resolve, reject) => {
    let request: ClientRequest | undefined;
    const onAbort = () => {
      request?.destroy(new Error('aborted'));
      reject(new Error('aborted'));
    };
    signal.addEventListener('abort', onAbort, { once: true });
    remoteSocket(connection, host, port).then(
      (channel) => {
        if (signal.aborted) {
          channel.destroy();
          return;
        }
        const socket = secure ? tlsConnect({ socket: channel, servername: host }) : channel;
        const options = { method: 'GET', createConnection: () => socket, headers: { connection: 'close' } };
        request = (secure ? httpsRequest : httpRequest)(url, options as Parameters<typeof httpRequest>[1], (response) => {
          signal.removeEventListener('abort', onAbort);
          response.resume();
          resolve(response);
        });
        request.on('error', (error) => {
          signal.removeEventListener('abort', onAbort);
          reject(error);
        });
        request.end();
      },
      (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/**
 * GETs `url` through a TCP connection the remote host opens (so name resolution, routing and
 * firewalls are the target's), following up to five redirects unless `manualRedirect`. Answers
 * the status, or what went wrong, as text; rejects only when `signal` aborts.
 */
export async function remoteGet(connection: SshConnection, get: RemoteGet): Promise<string> {
  const timeout = AbortSignal.timeout(get.timeoutMs);
  const either = new AbortController();
  const abortEither = () => either.abort();
  get.signal.addEventListener('abort', abortEither, { once: true });
  timeout.addEventListener('abort', abortEither, { once: true });
  if (get.signal.aborted) either.abort();
  const both = either.signal;
  let url = new URL(get.url);
  try {
    for (let redirects = 0; ; redirects++) {
      const response = await getOnce(connection, url, both);
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (get.manualRedirect || status < 300 || status >= 400 || location === undefined || redirects === MAX_REDIRECTS) {
        return String(status);
      }
      url = new URL(location, url);
    }
  } catch (error) {
    get.signal.throwIfAborted();
    if (timeout.aborted) return `no answer within ${get.timeoutMs} ms`;
    return errorMessageWithCause(error);
  } finally {
    get.signal.removeEventListener('abort', abortEither);
    timeout.removeEventListener('abort', abortEither);
  }
}
