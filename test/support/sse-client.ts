import { ADMIN_AUTHORIZATION } from './credentials';

/** One Server-Sent Event. */
export interface SseEvent {
  id: string;
  event: string;
  data: Record<string, unknown>;
}

/**
 * A Server-Sent Events stream read event by event (the test admin's credentials), with a
 * deadline per event; {@link SseStream.next} fails when the stream ends, e.g. because its server died.
 */
export class SseStream {
  private buffer = '';
  private readonly queued: SseEvent[] = [];
  private readonly decoder = new TextDecoder();

  private constructor(
    private readonly body: AsyncIterator<Uint8Array>,
    private readonly abort: AbortController,
  ) {}

  /** Opens `url`; with `lastEventId`, resumes after that event. Fails unless the answer is a 200 event stream. */
  static async open(url: string, lastEventId?: string): Promise<SseStream> {
    const abort = new AbortController();
    const headers: Record<string, string> = { authorization: ADMIN_AUTHORIZATION, accept: 'text/event-stream' };
    if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
    const res = await fetch(url, { headers, signal: abort.signal });
    if (res.status !== 200 || !(res.headers.get('content-type') ?? '').startsWith('text/event-stream') || !res.body) {
      abort.abort();
      throw new Error(`GET ${url}: expected a 200 event stream, got ${res.status} ${res.headers.get('content-type')}`);
    }
    return new SseStream(res.body[Symbol.asyncIterator](), abort);
  }

  /** The next event; fails after `timeoutMs` without one, or when the stream ends. */
  async next(timeoutMs = 20_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs;
    while (this.queued.length === 0) {
      let timer: NodeJS.Timeout | undefined;
      const chunk = await Promise.race([
        this.body.next(),
        new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no event within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now())))),
      ]).finally(() => clearTimeout(timer));
      if (chunk.done) throw new Error('the event stream ended');
      this.buffer += this.decoder.decode(chunk.value, { stream: true });
      let end: number;
      while ((end = this.buffer.indexOf('\n\n')) !== -1) {
        const block = this.buffer.slice(0, end);
        this.buffer = this.buffer.slice(end + 2);
        const fields = new Map<string, string>();
        for (const line of block.split('\n')) {
          if (line.startsWith(':')) continue;
          const colon = line.indexOf(':');
          fields.set(line.slice(0, colon), line.slice(colon + 1).replace(/^ /, ''));
        }
        const event = fields.get('event');
        if (event) this.queued.push({ id: fields.get('id') ?? '', event, data: JSON.parse(fields.get('data') ?? '{}') as Record<string, unknown> });
      }
    }
    return this.queued.shift()!;
  }

  close(): void {
    this.abort.abort();
  }
}
