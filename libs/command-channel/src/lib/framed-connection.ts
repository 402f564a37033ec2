import { Socket } from 'node:net';
import { Logger } from '@shipdeck/logging';
import { Frame, FrameDecoder, encodeFrame } from './framing';
import { Goodbye, MAX_FRAME_BYTES } from './protocol';

/** The reason of a connection the peer closed without a word. */
export const CLOSED_BY_PEER = 'connection closed by the peer';

/** How long a socket closed on purpose may take to flush before it is destroyed. */
const END_GRACE_MS = 1000;
/** Bytes queued for a peer that does not read; past this the connection is closed. */
const MAX_QUEUED_BYTES = 16 * MAX_FRAME_BYTES;

export interface FramedConnectionOptions {
  socket: Socket;
  logger: Logger;
  /** Who is on the other side, for log lines: `worker 10.0.0.5:53122`, `master 10.0.0.2:8180`. */
  peer: string;
  onFrame(frame: Frame): void;
  /** Called once, when the connection is closed by either side or fails; `reason` says why. */
  onClose(reason: string): void;
}

/**
 * A socket carrying newline-delimited JSON frames, shared by both ends of the channel. It never
 * throws at its owner: a bad frame, a socket error or a failing handler ends in one `onClose`.
 */
export class FramedConnection<Out extends { type: string }> {
  private readonly decoder = new FrameDecoder();
  private closeReason: string | undefined;
  private error: Error | undefined;
  private readonly closedPromise: Promise<void>;

  constructor(private readonly options: FramedConnectionOptions) {
    const { socket } = options;
    this.closedPromise = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('data', (chunk: Uint8Array) => this.receive(chunk));
    socket.on('error', (error) => {
      this.error ??= error;
    });
    socket.on('close', () => this.finish(this.error ? describeSocketError(this.error) : CLOSED_BY_PEER));
  }

  get closed(): boolean {
    return this.closeReason !== undefined;
  }

  get socket(): Socket {
    return this.options.socket;
  }

  /** Resolves once the socket is fully closed. */
  whenClosed(): Promise<void> {
    return this.closedPromise;
  }

  /** Sends one message; false when the connection is closed or the message could not be framed. */
  send(message: Out | Goodbye): boolean {
    if (this.closed) return false;
    let frame: string;
    try {
      frame = encodeFrame(message);
    } catch (error) {
      this.options.logger.error(`cannot send to ${this.options.peer}: ${(error as Error).message}`);
      return false;
    }
    if (this.options.socket.writableLength > MAX_QUEUED_BYTES) {
      this.close(`${this.options.peer} does not read what is sent to it`);
      return false;
    }
    this.options.socket.write(frame);
    return true;
  }

  /**
   * Closes on purpose: `onClose(reason)` runs at once, a `goodbye` tells the peer why (unless
   * `goodbye` is false), and the socket ends, or is destroyed if it does not flush in time.
   */
  close(reason: string, goodbye = true): void {
    if (this.closed) return;
    if (goodbye) this.send({ type: 'goodbye', reason } satisfies Goodbye);
    this.finish(reason);
    const { socket } = this.options;
    socket.end();
    setTimeout(() => socket.destroy(), END_GRACE_MS).unref();
  }

  /** Closes without a word and without waiting, e.g. when a peer is frozen or the process stops. */
  destroy(reason: string): void {
    this.finish(reason);
    this.options.socket.destroy();
  }

  private receive(chunk: Uint8Array): void {
    if (this.closed) return;
    const { frames, error } = this.decoder.push(chunk);
    for (const frame of frames) {
      if (this.closed) return;
      try {
        this.options.onFrame(frame);
      } catch (handlerError) {
        this.options.logger.error(`handling a ${frame.type} message from ${this.options.peer} failed`, {
          error: handlerError,
        });
      }
    }
    if (error && !this.closed) {
      this.options.logger.warn(`closing the channel with ${this.options.peer}: ${error.message}`);
      this.close(error.message);
    }
  }

  private finish(reason: string): void {
    if (this.closeReason !== undefined) return;
    this.closeReason = reason;
    try {
      this.options.onClose(reason);
    } catch (error) {
      this.options.logger.error(`handling the close of the channel with ${this.options.peer} failed`, { error });
    }
  }
}

/** Codes of a peer certificate that does not verify, as Node names them. */
const CERTIFICATE_ERROR_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'CERT_SIGNATURE_FAILURE',
  'INVALID_CA',
  'ERR_TLS_CERT_ALTNAME_INVALID',
]);

/** Whether a socket error is a TLS handshake refused by either side (bad or unknown certificate). */
export function isTlsHandshakeError(error: Error): boolean {
  const code = (error as NodeJS.ErrnoException).code ?? '';
  return code.startsWith('ERR_SSL_') || CERTIFICATE_ERROR_CODES.has(code) || /alert|certificate|handshake/i.test(error.message);
}

/** A socket error as a reason for people: the TLS refusals say so, the others carry their code. */
export function describeSocketError(error: Error): string {
  const code = (error as NodeJS.ErrnoException).code;
  // OpenSSL's messages carry a whole error stack; Node puts its readable part in `reason`.
  const reason = (error as { reason?: unknown }).reason;
  const message = typeof reason === 'string' && reason !== '' ? reason : error.message.trim();
  const withCode = code && !message.includes(code) ? `${message} (${code})` : message;
  return isTlsHandshakeError(error) ? `TLS handshake refused: ${withCode}` : withCode;
}
