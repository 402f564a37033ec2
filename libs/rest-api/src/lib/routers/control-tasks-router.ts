import { Router } from 'express';
import type { ControlTaskService } from '@shipdeck/master-services';
import { readBody } from '../body';
import { ControlTaskBody } from '../dtos';
import { createTask, route } from '../routing';
import { bodyOf } from '../validation';

/** `/control-tasks`: a control run on a host. */
export function controlTasksRouter(controlTasks: ControlTaskService): Router {
  const router = Router();
  route(router, '/control-tasks', {
    post: [
      readBody(['json']),
      async (req, res) => {
        const body = bodyOf(req, ControlTaskBody);
        const request = { target: body.target, control: body.control, parameters: body.parameters ?? {} };
        await createTask(req, res, {
          start: body.start,
          // A control task belongs to no environment (as for POST /tasks/{id}/start).
          environment: null,
          create: (options) => controlTasks.createControlTask(request, options),
        });
      },
    ],
  });
  return router;
}
