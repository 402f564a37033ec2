import { createServer, IncomingHttpHeaders } from 'node:http';
import { AddressInfo } from 'node:net';

/** A request the fake master received. */
export interface RecordedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** One Server-Sent Event. */
export interface FakeEvent {
  id: string;
  event: string;
  data: unknown;
}

/**
 * What the fake master answers; `json` is serialised, `text` sent as text/plain, `events` as a
 * text/event-stream that ends after them, as a stream does when its master dies (unless `hold`).
 */
export interface FakeAnswer {
  status?: number;
  json?: unknown;
  text?: string;
  events?: FakeEvent[];
  /** With `events`: the stream stays open (silent) after them instead of ending. */
  hold?: boolean;
}

/** Answers a request, or undefined for the API's 404. */
export type FakeRoutes = (req: RecordedRequest) => FakeAnswer | undefined;

/** A master stand-in on an ephemeral port. */
export interface FakeMaster {
  url: string;
  requests: RecordedRequest[];
  close(): Promise<void>;
}

/** Starts an HTTP server on port 0 that records every request and answers with `routes`. */
export async function startFakeMaster(routes: FakeRoutes): Promise<FakeMaster> {
  const requests: RecordedRequest[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const recorded = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body };
      requests.push(recorded);
      const answer = routes(recorded) ?? {
        status: 404,
        json: { error: { code: 'NOT_FOUND', message: `no such endpoint: ${recorded.method} ${recorded.url}`, details: [] } },
      };
      const status = answer.status ?? 200;
      if (answer.events !== undefined) {
        res.writeHead(status, { 'content-type': 'text/event-stream; charset=utf-8' });
        for (const e of answer.events) res.write(`id: ${e.id}\nevent: ${e.event}\ndata: ${JSON.stringify(e.data)}\n\n`);
        if (!answer.hold) res.end();
      } else if (answer.text !== undefined) {
        res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' }).end(answer.text);
      } else if (answer.json !== undefined) {
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.json));
      } else {
        res.writeHead(status).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** Collects what is written to it. */
export class Sink {
  text = '';
  write(chunk: string): boolean {
    this.text += chunk;
    return true;
  }
  get lines(): string[] {
    return this.text.split('\n').slice(0, -1);
  }
}

/** Whether the request is `method url`. */
export const is = (req: RecordedRequest, method: string, url: string): boolean => req.method === method && req.url === url;

/** A JSON answer. */
export const json = (value: unknown, status = 200): FakeAnswer => ({ status, json: value });

/** One page of a list answer (spec §6), the last one unless `nextCursor` is given. */
export const page = (items: unknown[], nextCursor: string | null = null): FakeAnswer => json({ items, nextCursor });

/** The `event` and `data` of one Server-Sent Event; its id comes from where it is sent. */
export type FakeEventBody = Omit<FakeEvent, 'id'>;

/**
 * The events of a task stream, one batch per connection: a connection without Last-Event-ID gets
 * the first batch, one that names the last event of batch N gets batch N+1; each connection ends
 * after its batch, like a stream whose master dies, so the CLI must reconnect to go on.
 */
export function eventBatches(batches: FakeEventBody[][]): (req: RecordedRequest) => FakeAnswer {
  return (req) => {
    const last = req.headers['last-event-id'];
    const index = typeof last === 'string' ? Number(last.split('.')[0]) + 1 : 0;
    return { events: (batches[index] ?? []).map((e, i) => ({ ...e, id: `${index}.${i}` })) };
  };
}
