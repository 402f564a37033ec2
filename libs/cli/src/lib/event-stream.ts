import type { ShownTaskState, StepView } from '@shipdeck/tasks';
import { ApiError, EventStreamBody, UnreachableError } from './client';
import { CliError, seg, Session } from './session';

/** One event of a task's stream (`GET /tasks/{id}/events`, spec §6). */
export type TaskEvent =
  /** New text of a step's log (not necessarily whole lines). */
  | { event: 'log'; path: string; text: string }
  /** A step's state changed. */
  | { event: 'step'; path: string; state: StepView['state'] }
  /** The task's state changed. */
  | { event: 'state'; state: ShownTaskState }
  /** The task is gone; the stream ends. */
  | { event: 'removed' };

/** Longest wait between two attempts to reach the master again. */
const MAX_RETRY_DELAY_MS = 5_000;

/**
 * Contact with the master during a long wait: retries what fails for a transient reason (the
 * master cannot be reached or answers 502/503/504, a stream drops) with a doubling delay, says
 * once on stderr that contact is lost and once that it is back, and gives up after
 * `reconnectTimeoutMs` without contact.
 */
export class Contact {
  private lostSince: number | undefined;
  private delayMs: number;

  constructor(
    private readonly session: Session,
    /** Clears the progress line before a message, so that the message is not drawn over it. */
    private readonly clearProgress: () => void = () => undefined,
  ) {
    this.delayMs = session.retryDelayMs;
  }

  /** Runs `attempt` until it succeeds or fails for good. */
  async retry<T>(attempt: () => Promise<T>): Promise<T> {
    for (;;) {
      try {
        const result = await attempt();
        this.restored();
        return result;
      } catch (error) {
        if (!isTransient(error)) throw error;
        await this.lost(error);
      }
    }
  }

  /** Something answered: contact is back (said once if it was lost) and the delay starts over. */
  restored(): void {
    if (this.lostSince !== undefined) this.say('  (reconnected)');
    this.lostSince = undefined;
    this.delayMs = this.session.retryDelayMs;
  }

  /** Contact is lost because of `error`: waits before the next attempt, or rethrows once the time is up. */
  async lost(error: unknown): Promise<void> {
    if (this.lostSince === undefined) {
      this.lostSince = Date.now();
      const seconds = Math.round(this.session.reconnectTimeoutMs / 1000);
      this.say(`  (lost contact with Shipdeck at ${this.session.client.server}; retrying for up to ${seconds}s)`);
    } else if (Date.now() - this.lostSince > this.session.reconnectTimeoutMs) {
      throw error;
    }
    await new Promise((resolve) => setTimeout(resolve, this.delayMs));
    this.delayMs = Math.min(this.delayMs * 2, MAX_RETRY_DELAY_MS);
  }

  private say(line: string): void {
    this.clearProgress();
    this.session.err(line);
  }
}

/** Failures worth retrying: the master is (for now) out of reach. */
function isTransient(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof ApiError && [502, 503, 504].includes(error.status));
}

/**
 * The events of a task, as long as the caller reads them. When the stream drops (its master died,
 * a proxy closed it) it is opened again on the same server URL, behind which another master may
 * answer, with the id of the last event read as `Last-Event-ID`: the master resumes right after
 * it, so every event arrives exactly once and in order.
 */
export async function* taskEvents(session: Session, taskId: string, contact: Contact): AsyncGenerator<TaskEvent> {
  let lastEventId: string | undefined;
  for (;;) {
    const abort = new AbortController();
    let dropped: unknown;
    let received = false;
    let idle: NodeJS.Timeout | undefined;
    const alive = () => {
      clearTimeout(idle);
      idle = setTimeout(() => abort.abort(), session.streamIdleTimeoutMs);
    };
    try {
      alive();
      const body = await session.client.eventStream(`/tasks/${seg(taskId)}/events`, lastEventId, abort.signal);
      for await (const raw of serverSentEvents(body, alive)) {
        received = true;
        contact.restored();
        if (raw.id !== undefined) lastEventId = raw.id;
        const event = taskEventOf(raw);
        if (event) yield event;
      }
      dropped = new UnreachableError(session.client.server, undefined, 'the event stream ended');
    } catch (error) {
      // A read that fails mid-stream (the connection was reset) is a drop like any other.
      if (error instanceof CliError || (error instanceof ApiError && !isTransient(error))) throw error;
      dropped = error;
    } finally {
      clearTimeout(idle);
      abort.abort();
    }
    // A stream that served events and dropped is opened again at once, quietly; contact counts as
    // lost (and the time to give up runs) only while attempts bring nothing.
    if (received) await new Promise((resolve) => setTimeout(resolve, session.retryDelayMs));
    else await contact.lost(dropped);
  }
}

/** An event as the wire has it. */
interface RawEvent {
  id?: string;
  event: string;
  data: string;
}

/**
 * Splits an event stream into events (the SSE format: fields up to a blank line; `:` lines are
 * comments, such as keepalives); `received` is called at each chunk.
 */
async function* serverSentEvents(body: EventStreamBody, received: () => void): AsyncGenerator<RawEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body) {
    received();
    buffer += decoder.decode(chunk, { stream: true }).replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) !== -1) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const event: RawEvent = { event: 'message', data: '' };
      const data: string[] = [];
      for (const line of block.split('\n')) {
        if (line === '' || line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon === -1 ? line : line.slice(0, colon);
        const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '');
        if (field === 'id') event.id = value;
        else if (field === 'event') event.event = value;
        else if (field === 'data') data.push(value);
      }
      event.data = data.join('\n');
      if (data.length > 0 || event.id !== undefined) yield event;
    }
  }
}

/** The task event a wire event carries; undefined for event types this CLI does not know. */
function taskEventOf(raw: RawEvent): TaskEvent | undefined {
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(raw.data || '{}') as Record<string, unknown>;
  } catch {
    throw new CliError(`the server sent a malformed ${raw.event} event: ${raw.data.slice(0, 200)}`);
  }
  const text = (key: string): string => {
    if (typeof data[key] !== 'string') throw new CliError(`the server sent a ${raw.event} event without ${key}`);
    return data[key] as string;
  };
  switch (raw.event) {
    case 'log':
      return { event: 'log', path: text('path'), text: text('text') };
    case 'step':
      return { event: 'step', path: text('path'), state: text('state') as StepView['state'] };
    case 'state':
      return { event: 'state', state: text('state') as ShownTaskState };
    case 'removed':
      return { event: 'removed' };
    default:
      return undefined;
  }
}
