import type { ReadableStreamDefaultReader } from 'node:stream/web';
import type { TestServer } from './http';

/** One Server-Sent Event. */
export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/** An open Server-Sent Events stream of a test server, read event by event. */
export class EventStream {
  private buffer = '';
  private readonly queued: SseEvent[] = [];

  private constructor(
    private readonly reader: ReadableStreamDefaultReader<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  /** Opens `path` on `server` with these credentials; with `lastEventId`, resumes after that event. */
  static async open(server: TestServer, path: string, authorization: string, lastEventId?: string): Promise<EventStream> {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization, accept: 'text/event-stream' };
    if (lastEventId) headers['last-event-id'] = lastEventId;
    const res = await fetch(`${server.baseUrl}${path}`, { headers, signal: abort.signal });
    if (res.status !== 200 || res.headers.get('content-type') !== 'text/event-stream; charset=utf-8' || !res.body) {
      abort.abort();
      throw new Error(`GET ${path}: expected a 200 event stream, got ${res.status} ${res.headers.get('content-type')}`);
    }
    return new EventStream(res.body.getReader(), abort);
  }

  /** The next event; fails after 5 s without one. */
  async next(): Promise<SseEvent> {
    const deadline = Date.now() + 5000;
    while (this.queued.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.reader.read(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('no event within 5 s')), Math.max(0, deadline - Date.now())))),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error('the stream ended');
      this.buffer += new TextDecoder().decode(chunk.value);
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields = Object.fromEntries(
          block
            .split('\n')
            .filter((line) => !line.startsWith(':'))
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        if (fields['event']) this.queued.push({ id: fields['id']!, event: fields['event'], data: JSON.parse(fields['data']!) });
      }
    }
    return this.queued.shift()!;
  }

  /** Events up to and including the first `state` event. */
  async untilState(): Promise<SseEvent[]> {
    const events: SseEvent[] = [];
    for (let e = await this.next(); ; e = await this.next()) {
      events.push(e);
      if (e.event === 'state') return events;
    }
  }

  close(): void {
    this.abort.abort();
  }
}
