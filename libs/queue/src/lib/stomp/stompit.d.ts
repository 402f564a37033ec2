// The part of stompit 1.0 (which ships no typings) that the STOMP adapter uses.
declare module 'stompit' {
  import type { EventEmitter } from 'node:events';
  import type { Readable, Writable } from 'node:stream';

  export type StompHeaders = Record<string, string | number>;

  /** An incoming MESSAGE frame: headers, and the body as a stream. */
  export interface MessageFrame extends Readable {
    headers: Record<string, string>;
    readString(encoding: BufferEncoding, callback: (error: Error | null, body?: string) => void): void;
  }

  export interface Subscription {
    getId(): string | number;
    unsubscribe(headers?: StompHeaders): void;
  }

  export interface SendOptions {
    onReceipt?: () => void;
  }

  export interface Client extends EventEmitter {
    headers?: Record<string, string>;
    send(headers: StompHeaders, options?: SendOptions): Writable;
    subscribe(headers: StompHeaders, listener: (error: Error | null, message: MessageFrame) => void): Subscription;
    ack(message: MessageFrame, headers?: StompHeaders, options?: SendOptions, callback?: (error?: Error) => void): void;
    nack(message: MessageFrame, headers?: StompHeaders, options?: SendOptions, callback?: (error?: Error) => void): void;
    disconnect(callback?: (error: Error | null) => void): void;
    destroy(error?: Error): void;
    sendFrame(command: string, headers: StompHeaders, options?: SendOptions): Writable;
    /**
     * Replaces stompit's handler of an incoming command (stompit 1.0 sets MESSAGE, RECEIPT and
     * ERROR at CONNECTED). The handler must read the frame to its end; stompit reads the next
     * frame after that.
     */
    setCommandHandler(command: 'MESSAGE', handler: (frame: MessageFrame, beforeSendResponse: () => void) => void): void;
    getTransportSocket(): { destroyed?: boolean; destroy(): void };
  }

  export interface ConnectOptions {
    host: string;
    port: number;
    ssl?: boolean | Record<string, unknown>;
    timeout?: number;
    connectHeaders?: StompHeaders;
  }

  export function connect(options: ConnectOptions, callback: (error: Error | null, client: Client) => void): Client;
}
