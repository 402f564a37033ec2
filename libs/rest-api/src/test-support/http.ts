import { AddressInfo } from 'node:net';
import { Server } from 'node:http';
import type { Application } from 'express';

/** What a test request answered. */
export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body when it is JSON. */
  json: unknown;
}

/** Options of one test request. */
export interface TestRequest {
  /** Sent as JSON with `Content-Type: application/json` unless `headers` says otherwise. */
  json?: unknown;
  /** Sent as is. */
  body?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** A running app on an ephemeral port, with a fetch-based client. */
export interface TestServer {
  baseUrl: string;
  request(method: string, path: string, options?: TestRequest): Promise<TestResponse>;
  close(): Promise<void>;
}

/** Listens on port 0 and answers a client for it; `defaults.headers` go with every request (credentials). */
export async function startTestServer(app: Application, defaults: { headers?: Record<string, string> } = {}): Promise<TestServer> {
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve(s)));
  });
  const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    baseUrl,
    async request(method, path, options = {}) {
      const headers: Record<string, string> = { ...defaults.headers, ...options.headers };
      let body: string | Uint8Array | undefined = options.body;
      if (options.json !== undefined) {
        body = JSON.stringify(options.json);
        headers['content-type'] ??= 'application/json';
      }
      const res = await fetch(baseUrl + path, { method, headers, body });
      const text = await res.text();
      let json: unknown;
      try {
        json = JSON.parse(text);
      } catch {
        json = undefined;
      }
      return { status: res.status, headers: res.headers, text, json };
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Polls `predicate` until it holds or `timeoutMs` passes. */
export async function waitFor(predicate: () => boolean, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}
