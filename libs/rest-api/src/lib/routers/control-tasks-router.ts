import { Router } from 'express';
import type { ControlTaskService } from '@shipdeck/master-services';
import { readBody } from '../body';
import { ControlTaskBody } from '../dtos';
import { route, taskCreated } from '../routing';
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
        taskCreated(res, await controlTasks.createControlTask(request));
      },
    ],
  });
  return router;
}
