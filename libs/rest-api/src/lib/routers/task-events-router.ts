import { Request, Response, Router } from 'express';
import { ShipdeckError } from '@shipdeck/errors';
import type { TaskOperationsService } from '@shipdeck/master-services';
import type { TaskView } from '@shipdeck/tasks';
import { route } from '../routing';
import { param } from '../validation';
import { requireEventStreamAccept } from './event-stream';
import { maskedJson } from '../secret-masking';

/** How often a stream looks at the database; the events come from there, not from this master's memory. */
export const TASK_EVENTS_POLL_MS = 500;
/** A comment line this often keeps proxies from closing a quiet stream. */
const KEEPALIVE_MS = 15_000;

/**
 * Where a client is in a task's event stream: the task state, each step's state and how much of
 * each step's log it has seen (step logs are append-only). It is the `id` of every event, so a
 * client that reconnects with `Last-Event-ID` gets exactly what it has not seen, from any master.
 */
interface StreamPosition {
  /** The task state seen; '' before the first. */
  s: string;
  /** Step states seen, by step path. */
  p: Record<string, string>;
  /** Characters of each step's log seen, by step path. */
  l: Record<string, number>;
}

/** One event of the stream; `id` is the encoded position just after it. */
interface TaskEvent {
  id: string;
  event: 'state' | 'step' | 'log' | 'removed';
  data: Record<string, unknown>;
}

/** Step states after which a step writes no more log (until the task runs it again: its state changes then). */
const ENDED: ReadonlySet<string> = new Set(['DONE', 'FAILED', 'SKIPPED']);

function encodePosition(position: StreamPosition): string {
  return Buffer.from(JSON.stringify(position)).toString('base64url');
}

/** The position a `Last-Event-ID` names; the start for none, or for one this server did not write. */
function decodePosition(id: string | undefined): StreamPosition {
  const start: StreamPosition = { s: '', p: {}, l: {} };
  if (!id) return start;
  try {
    const parsed = JSON.parse(Buffer.from(id, 'base64url').toString('utf8')) as Partial<StreamPosition>;
    const record = (value: unknown) => (value !== null && typeof value === 'object' && !Array.isArray(value) ? value : {});
    return {
      s: typeof parsed.s === 'string' ? parsed.s : '',
      p: Object.fromEntries(Object.entries(record(parsed.p)).filter(([, v]) => typeof v === 'string')) as Record<string, string>,
      l: Object.fromEntries(Object.entries(record(parsed.l)).filter(([, v]) => Number.isInteger(v) && (v as number) >= 0)) as Record<string, number>,
    };
  } catch {
    return start;
  }
}

/**
 * `GET /tasks/:id/events`: Server-Sent Events of one task — `log` (new text of a step's log),
 * `step` (a step's state changed), `state` (the task's state changed), `removed` (the task is
 * gone; the stream ends). The first connection replays the task's history so far.
 */
export function taskEventsRouter(tasks: TaskOperationsService, pollMs = TASK_EVENTS_POLL_MS): Router {
  const router = Router();
  route(router, '/tasks/:id/events', {
    get: [
      async (req, res) => {
        const id = param(req, 'id');
        requireEventStreamAccept(req);
        // Unknown task: the usual 404 answer, before the stream starts.
        const first = await tasks.getTask(id);
        await stream(req, res, id, first, tasks, pollMs);
      },
    ],
  });
  return router;
}

async function stream(req: Request, res: Response, id: string, first: TaskView, tasks: TaskOperationsService, pollMs: number): Promise<void> {
  const position = decodePosition(req.get('last-event-id'));
  res.status(200).set({
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    // Proxies such as nginx would otherwise buffer the stream.
    'X-Accel-Buffering': 'no',
  });
  res.flushHeaders();
  let closed = false;
  req.once('close', () => (closed = true));
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  try {
    let view: TaskView | null = first;
    while (!closed) {
      if (view === null) {
        send(res, { id: encodePosition(position), event: 'removed', data: { taskId: id } });
        break;
      }
      for (const event of await changes(view, position, tasks)) send(res, event);
      await new Promise((resolve) => setTimeout(resolve, pollMs));
      if (closed) break;
      view = await tasks.getTask(id).catch((error: unknown) => {
        if (error instanceof ShipdeckError && error.code === 'TASK_NOT_FOUND') return null;
        throw error;
      });
    }
  } catch {
    // The database went away mid-stream: the stream ends, and the client reconnects with its
    // Last-Event-ID (to this master or another) and misses nothing. The headers are sent, so no
    // error answer is possible any more.
  } finally {
    clearInterval(keepalive);
    res.end();
  }
}

/**
 * What changed between `position` and `view`, in the order a reader expects: step by step in plan
 * order, a step that runs first says so, then its new log text; a step that ended shows the rest
 * of its log, then its end; the task state last. So one step's output never shows up after the
 * next step started. Advances `position` as each event is made.
 */
async function changes(view: TaskView, position: StreamPosition, tasks: TaskOperationsService): Promise<TaskEvent[]> {
  const events: TaskEvent[] = [];
  for (const step of view.steps) {
    const changed = position.p[step.path] !== step.state;
    const stateEvent = (): void => {
      position.p[step.path] = step.state;
      events.push({ id: encodePosition(position), event: 'step', data: { path: step.path, state: step.state } });
    };
    if (changed && step.state === 'EXECUTING') stateEvent();
    // A step seen ended at an earlier look had its whole log read then.
    const quiet = (step.state === 'PENDING' && !position.l[step.path]) || (ENDED.has(step.state) && !changed);
    if (!quiet) {
      const seen = position.l[step.path] ?? 0;
      // Read after the view: a step the view shows ended has flushed its log, so nothing of it is missed.
      const log = await tasks.readStepLog(view.id, step.path);
      if (log.length > seen) {
        position.l[step.path] = log.length;
        events.push({ id: encodePosition(position), event: 'log', data: { path: step.path, text: log.slice(seen) } });
      }
    }
    if (changed && step.state !== 'EXECUTING') stateEvent();
  }
  if (position.s !== view.state) {
    position.s = view.state;
    events.push({ id: encodePosition(position), event: 'state', data: { state: view.state } });
  }
  return events;
}

function send(res: Response, event: TaskEvent): void {
  res.write(`id: ${event.id}\nevent: ${event.event}\ndata: ${maskedJson(event.data)}\n\n`);
}
