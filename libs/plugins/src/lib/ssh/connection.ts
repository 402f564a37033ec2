import { readFile } from 'node:fs/promises';
import { Socket, connect as tcpConnect } from 'node:net';
import { Duplex } from 'node:stream';
import type { Client, ClientChannel, ConnectConfig } from 'ssh2';
import { errorMessage } from '../error-text';
import { SshEndpoint, SshHostConfig } from './host-config';
import { TrustedHostKeys, fingerprintOf, keyTypeOf } from './host-keys';

/** What a connection needs besides the host's configuration. */
export interface ConnectOptions {
  /** The host's name, for messages. */
  hostName: string;
  /** Where the worker's trusted host keys are (see {@link TrustedHostKeys}). */
  workDir: string;
  signal: AbortSignal;
}

/** The host key a server presented, as seen during a connection attempt. */
export interface PresentedHostKey {
  fingerprint: string;
  keyType: string;
}

/** TCP keep-alive on the socket: a peer that vanishes without a FIN is noticed without a timer of ours. */
const TCP_KEEPALIVE_MS = 15_000;

type Ssh2Module = typeof import('ssh2');
let ssh2Module: Promise<Ssh2Module> | undefined;
/** ssh2 is loaded on first use so that processes that never connect (master, CLI) do not pay for it. */
function ssh2(): Promise<Ssh2Module> {
  ssh2Module ??= import('ssh2');
  return ssh2Module;
}

/** A refused host key: the message says what was offered and what to do, and carries no secret. */
export class HostKeyMismatchError extends Error {
  constructor(
    message: string,
    readonly presented: PresentedHostKey,
  ) {
    super(message);
    this.name = 'HostKeyMismatchError';
  }
}

function describeEndpoint(endpoint: SshEndpoint): string {
  return `${endpoint.username}@${endpoint.address}:${endpoint.port}`;
}

/** Why a connection attempt failed, in words an operator can act on; never includes a secret. */
function connectFailure(label: string, error: unknown, timeoutMs: number): Error {
  const message = errorMessage(error);
  const level = (error as { level?: unknown } | null)?.level;
  if (level === 'client-authentication') return new Error(`cannot log in to ${label}: the server refused every configured authentication method`);
  if (level === 'client-timeout') return new Error(`cannot connect to ${label}: no SSH handshake within ${timeoutMs} ms`);
  return new Error(`cannot connect to ${label}: ${message}`);
}

/**
 * Opens and authenticates one SSH client over the stream `makeSock` makes. The host key must match `expected`; when
 * nothing is expected, every key is refused and the error shows the one presented.
 */
async function openClient(
  endpoint: SshEndpoint,
  makeSock: () => Duplex,
  expected: string | undefined,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<{ client: Client; presented: PresentedHostKey }> {
  const { Client: SshClient } = await ssh2();
  const label = describeEndpoint(endpoint);
  let sock: Duplex | undefined;
  let privateKey: string | Buffer | undefined = endpoint.privateKey;
  if (endpoint.privateKeyPath !== undefined) {
    try {
      privateKey = await readFile(endpoint.privateKeyPath);
    } catch (error) {
      throw new Error(`cannot read the private key file for ${label}: ${errorMessage(error)}`);
    }
  }
  const client = new SshClient();
  let presented: PresentedHostKey | undefined;
  const config: ConnectConfig = {
    username: endpoint.username,
    privateKey,
    passphrase: endpoint.passphrase,
    password: endpoint.password,
    readyTimeout: timeoutMs,
    // Only the methods the host is configured for: no agent, no keyboard-interactive prompts.
    tryKeyboard: false,
    hostVerifier: (key: Buffer) => {
      presented = { fingerprint: fingerprintOf(key), keyType: keyTypeOf(key) };
      return expected !== undefined && presented.fingerprint === expected;
    },
  };
  return new Promise((resolve, reject) => {
    let settled = false;
    const settle = (error?: Error) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      if (!error && presented) {
        resolve({ client, presented });
        return;
      }
      client.end();
      sock?.destroy();
      reject(error ?? new Error(`cannot connect to ${label}: the server presented no host key`));
    };
    const onAbort = () => settle(new Error(`aborted while connecting to ${label}`));
    signal.addEventListener('abort', onAbort, { once: true });
    client.once('ready', () => settle());
    client.on('error', (error) => {
      if (presented && presented.fingerprint !== expected) {
        const message =
          expected === undefined
            ? `host key ${presented.fingerprint} (${presented.keyType}) of ${endpoint.address}:${endpoint.port} is not trusted: ` +
              'set hostKeyFingerprint on the host or confirm the key with the trust-host-key control'
            : `host key of ${endpoint.address}:${endpoint.port} is ${presented.fingerprint} (${presented.keyType}), ` +
              `expected ${expected}: refusing to connect`;
        settle(new HostKeyMismatchError(message, presented));
      } else {
        settle(connectFailure(label, error, timeoutMs));
      }
    });
    client.once('close', () => settle(new Error(`cannot connect to ${label}: the connection closed during the handshake`)));
    if (signal.aborted) onAbort();
    else {
      // The socket is made here, synchronously before ssh2 listens to it, so that none of its
      // errors (ECONNREFUSED…) is emitted with nobody listening.
      sock = makeSock();
      try {
        client.connect({ ...config, sock: sock as ConnectConfig['sock'] });
      } catch (error) {
        // ssh2 parses the private key here, synchronously (a wrong passphrase, not a key…).
        settle(new Error(`cannot use the private key for ${label}: ${errorMessage(error)}`));
      }
    }
  });
}

function tcpSocket(address: string, port: number): Socket {
  const socket = tcpConnect({ host: address, port });
  socket.setKeepAlive(true, TCP_KEEPALIVE_MS);
  socket.setNoDelay(true);
  return socket;
}

function forwardOut(jump: Client, address: string, port: number, label: string): Promise<ClientChannel> {
  return new Promise((resolve, reject) => {
    jump.forwardOut('127.0.0.1', 0, address, port, (error, channel) => {
      if (error) reject(new Error(`the jump host ${label} cannot open a connection to ${address}:${port}: ${errorMessage(error)}`));
      else resolve(channel);
    });
  });
}

/** The fingerprint a connection to `endpoint` must see: the host's own, else the worker's trusted one. */
async function expectedKey(endpoint: SshEndpoint, trusted: TrustedHostKeys): Promise<string | undefined> {
  return endpoint.hostKeyFingerprint ?? (await trusted.get(endpoint.address, endpoint.port));
}

/** How to reach a host's SSH server: directly, or through its (already authenticated) jump host. */
interface Route {
  /** Makes the stream the host's SSH client runs over; called once. */
  makeSock: () => Duplex;
  /** The TCP socket to the first server, once made. */
  socket(): Socket | undefined;
  jump?: Client;
  trusted: TrustedHostKeys;
  /** Closes the jump host's connection and the socket. */
  close(): void;
}

async function routeTo(config: SshHostConfig, options: ConnectOptions): Promise<Route> {
  const trusted = new TrustedHostKeys(options.workDir);
  const first = config.jumpHost ?? config;
  let socket: Socket | undefined;
  let jump: Client | undefined;
  const makeSocket = () => (socket = tcpSocket(first.address, first.port));
  const close = () => {
    jump?.end();
    socket?.destroy();
  };
  if (!config.jumpHost) return { makeSock: makeSocket, socket: () => socket, trusted, close };
  try {
    const opened = await openClient(config.jumpHost, makeSocket, await expectedKey(config.jumpHost, trusted), config.connectTimeoutMs, options.signal);
    jump = opened.client;
    const channel = await forwardOut(jump, config.address, config.port, describeEndpoint(config.jumpHost));
    return { makeSock: () => channel, socket: () => socket, jump, trusted, close };
  } catch (error) {
    close();
    throw error;
  }
}

/**
 * One authenticated SSH connection to a host (through its jump host when it has one). It notices
 * when the server goes away ({@link SshConnection.lost}) and can stop holding the worker's event
 * loop open while it sits idle in the pool.
 */
export class SshConnection {
  private lostReason: string | undefined;
  private readonly lostListeners = new Set<(reason: string) => void>();

  private constructor(
    readonly hostName: string,
    /** The client that talks to the host itself. */
    readonly client: Client,
    /** The jump host's client, when the connection goes through one. */
    private readonly jump: Client | undefined,
    /** The TCP socket to the first server, for ref/unref. */
    private readonly socket: Socket,
    readonly hostKey: PresentedHostKey,
  ) {
    const onLost = (reason: string) => {
      if (this.lostReason !== undefined) return;
      this.lostReason = reason;
      for (const listener of this.lostListeners) listener(reason);
    };
    let lastError = '';
    for (const c of [client, jump]) {
      c?.on('error', (error) => (lastError = errorMessage(error)));
      c?.on('end', () => onLost(lastError ? `the connection ended: ${lastError}` : 'the server ended the connection'));
      c?.on('close', () => onLost(lastError ? `the connection closed: ${lastError}` : 'the server closed the connection'));
    }
  }

  /**
   * Connects and authenticates, checking each server's host key.
   *
   * @throws HostKeyMismatchError when a host key is not the expected one; Error for everything
   *   else (refused, unreachable, authentication, timeout, abort).
   */
  static async open(config: SshHostConfig, options: ConnectOptions): Promise<SshConnection> {
    const way = await routeTo(config, options);
    try {
      const target = await openClient(config, way.makeSock, await expectedKey(config, way.trusted), config.connectTimeoutMs, options.signal);
      return new SshConnection(options.hostName, target.client, way.jump, way.socket() as Socket, target.presented);
    } catch (error) {
      way.close();
      throw error;
    }
  }

  /**
   * Only reads the host key the host presents (through its jump host, whose key is checked),
   * without logging in to the host: for the trust-host-key control.
   */
  static async presentedKey(config: SshHostConfig, options: ConnectOptions): Promise<PresentedHostKey> {
    const way = await routeTo(config, options);
    try {
      // Nothing is expected, so the key is refused right after it is shown: no authentication happens.
      const { client } = await openClient(config, way.makeSock, undefined, config.connectTimeoutMs, options.signal);
      client.end();
      throw new Error('the server accepted a connection without a host key check');
    } catch (error) {
      if (error instanceof HostKeyMismatchError) return error.presented;
      throw error;
    } finally {
      way.close();
    }
  }

  /** Why the connection is gone, or undefined while it is usable. */
  get lost(): string | undefined {
    return this.lostReason;
  }

  /** Calls `listener` once when the connection is lost; answers the unsubscribe function. */
  onLost(listener: (reason: string) => void): () => void {
    this.lostListeners.add(listener);
    return () => this.lostListeners.delete(listener);
  }

  /** Whether the connection keeps the process alive: yes while in use, no while idle in the pool. */
  holdProcess(hold: boolean): void {
    if (hold) this.socket.ref();
    else this.socket.unref();
  }

  /** Closes the connection (and the jump host's); safe to call twice. */
  close(): void {
    this.client.end();
    this.jump?.end();
    this.socket.destroy();
  }
}
