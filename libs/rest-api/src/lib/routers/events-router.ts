import { Router } from 'express';
import { IsIn, IsOptional, Matches } from 'class-validator';
import type { TaskOperationsService } from '@shipdeck/master-services';
import { TASK_STATES, TaskState, TaskView } from '@shipdeck/tasks';
import { route } from '../routing';
import { MESSAGES, NON_BLANK, queryOf } from '../validation';
import { requireEventStreamAccept } from './event-stream';
import { maskedJson } from '../secret-masking';

/** How often the stream of all tasks looks at the database. */
export const EVENTS_POLL_MS = 1000;
const KEEPALIVE_MS = 15_000;
const STATE_FILTERS = [...TASK_STATES, 'UNKNOWN'];

/** Query of `GET /events`. */
export class EventsQuery {
  @IsOptional()
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  environment?: string;

  @IsOptional()
  @IsIn(STATE_FILTERS, MESSAGES.oneOf(STATE_FILTERS))
  state?: string;
}

/** What a `task` event says of a task: enough for a dashboard row. */
function summary(task: TaskView): Record<string, unknown> {
  const { id, type, state, application, version, environment, worker, description } = task;
  return { id, type, state, application, version, environment, worker, description };
}

/**
 * `GET /events`: Server-Sent Events for dashboards over the current tasks (every state but DONE
 * and CANCELLED) matching the filter: a `task` event for each at first, then one whenever a task
 * appears or its state changes, and `gone` when it leaves the set (archived, cancelled, removed,
 * or no longer matching). Each look reads the database, so every master streams the same. A
 * client that reconnects gets the current set again (the replay is the state, not the history:
 * applying it is idempotent), whatever `Last-Event-ID` it sends.
 */
export function eventsRouter(tasks: TaskOperationsService, pollMs = EVENTS_POLL_MS): Router {
  const router = Router();
  route(router, '/events', {
    get: [
      async (req, res) => {
        const query = queryOf(req, EventsQuery);
        requireEventStreamAccept(req);
        const read = async () => {
          // The DTO admits only task states and UNKNOWN.
          const all = await tasks.listTasks({ state: query.state as TaskState | 'UNKNOWN' | undefined });
          return all.filter((t) => query.environment === undefined || t.environment === query.environment);
        };
        let current = await read();
        res.status(200).set({ 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Accel-Buffering': 'no' });
        res.flushHeaders();
        let closed = false;
        req.once('close', () => (closed = true));
        const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
        let sequence = 0;
        const send = (event: string, data: Record<string, unknown>) =>
          res.write(`id: ${++sequence}\nevent: ${event}\ndata: ${maskedJson(data)}\n\n`);
        const shown = new Map<string, string>();
        try {
          while (!closed) {
            const present = new Set<string>();
            for (const task of current) {
              present.add(task.id);
              if (shown.get(task.id) === task.state) continue;
              shown.set(task.id, task.state);
              send('task', summary(task));
            }
            for (const id of [...shown.keys()].filter((id) => !present.has(id))) {
              shown.delete(id);
              send('gone', { id });
            }
            await new Promise((resolve) => setTimeout(resolve, pollMs));
            if (closed) break;
            current = await read();
          }
        } catch {
          // The database went away: the stream ends; the client reconnects and gets the current set.
        } finally {
          clearInterval(keepalive);
          res.end();
        }
      },
    ],
  });
  return router;
}
