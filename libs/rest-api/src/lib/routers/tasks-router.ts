import { Router } from 'express';
import type { AuthService } from '@shipdeck/auth';
import type { TaskOperationsService } from '@shipdeck/master-services';
import { TaskOperation, TaskState, TaskType } from '@shipdeck/tasks';
import { readBody } from '../body';
import { ScheduleBody, TaskListQuery } from '../dtos';
import { getJson, noContent, route } from '../routing';
import { pageOf, pageRequest, summarizeTask } from '../paging';
import { taskActors } from '../task-actors';
import { bodyOf, param, queryOf, stepPathParam, toDate } from '../validation';

/** The operations without a body; `schedule` has its own route. */
const PLAIN_OPERATIONS = ['start', 'stop', 'abort', 'cancel', 'archive'] as const satisfies readonly TaskOperation[];

/** `/tasks`: listing, the state machine's operations, plan changes between runs, step logs. */
export function tasksRouter(tasks: TaskOperationsService, auth: AuthService): Router {
  const router = Router();
  route(router, '/tasks', {
    get: getJson(async (req) => {
      const query = queryOf(req, TaskListQuery);
      // The DTO admits only task states (and UNKNOWN) and task types.
      const state = query.state as TaskState | 'UNKNOWN' | undefined;
      const all = await tasks.listTasks({ state, type: query.type as TaskType | undefined, worker: query.worker });
      const page = pageOf(all, pageRequest(query));
      // A list carries no plans: a task's plan may hold thousands of steps; GET /tasks/{id} has it.
      return { items: page.items.map(summarizeTask), nextCursor: page.nextCursor };
    }),
  });
  route(router, '/tasks/:id', {
    get: getJson(async (req) => {
      const task = await tasks.getTask(param(req, 'id'));
      return { ...task, actors: await taskActors(auth, task.id) };
    }),
    delete: noContent((req) => tasks.removeTask(param(req, 'id'))),
  });
  route(router, '/tasks/:id/steps/:path/log', {
    get: [
      async (req, res) => {
        const log = await tasks.readStepLog(param(req, 'id'), stepPathParam(req));
        res.type('text/plain; charset=utf-8').send(log);
      },
    ],
  });
  for (const operation of PLAIN_OPERATIONS) {
    route(router, `/tasks/:id/${operation}`, { post: getJson((req) => tasks.operate(param(req, 'id'), operation)) });
  }
  route(router, '/tasks/:id/schedule', {
    post: [
      readBody(['json']),
      async (req, res) => {
        const at = toDate(bodyOf(req, ScheduleBody).at);
        res.json(await tasks.operate(param(req, 'id'), 'schedule', { at }));
      },
    ],
  });
  const planChanges = {
    skip: (id: string, path: string) => tasks.skipStep(id, path),
    unskip: (id: string, path: string) => tasks.unskipStep(id, path),
    'pause-before': (id: string, path: string) => tasks.pauseBefore(id, path),
  };
  for (const [change, apply] of Object.entries(planChanges)) {
    route(router, `/tasks/:id/steps/:path/${change}`, { post: getJson((req) => apply(param(req, 'id'), stepPathParam(req))) });
  }
  return router;
}
