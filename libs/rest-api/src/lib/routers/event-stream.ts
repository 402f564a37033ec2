import { Request } from 'express';
import { invalid } from '../validation';

/**
 * Refuses (400) a request for an event stream that does not ask for one: a stream never ends, so
 * a client that would read the whole answer (curl, a generic HTTP client) must say it wants one,
 * as browsers' EventSource does with `Accept: text/event-stream`.
 */
export function requireEventStreamAccept(req: Request): void {
  if (!(req.get('accept') ?? '').toLowerCase().includes('text/event-stream')) {
    throw invalid('request headers', [{ field: 'Accept', message: 'must include text/event-stream: this route answers a Server-Sent Events stream' }]);
  }
}
