import { Response, Router } from 'express';
import { FieldError } from '@shipdeck/errors';
import type { DeploymentRequest, ShipdeckService } from '@shipdeck/master-services';
import { TaskOperation, TaskState, TaskType, TaskView } from '@shipdeck/tasks';
import { readBody } from './body';
import {
  ArchiveQuery,
  ControlTaskBody,
  DeploymentBody,
  EnvironmentBody,
  HostBody,
  ScheduleBody,
  TaskListQuery,
  UndeploymentBody,
} from './dtos';
import { bodyOf, created, param, queryOf, route, stepPathParam } from './routing';
import { invalid, parseIsoDate } from './validation';

/** Where the API is mounted. */
export const API_BASE_PATH = '/api/v1';

/** What `POST /deployments`, `/undeployments` and `/control-tasks` answer (201). */
export interface CreatedTask {
  taskId: string;
  task: TaskView;
}

/** Every route of spec §6 that {@link ShipdeckService} serves, relative to {@link API_BASE_PATH}. */
export function apiRouter(service: ShipdeckService): Router {
  const router = Router();
  const json = readBody(['json']);

  // Infrastructure
  route(router, '/hosts', {
    get: [async (_req, res) => void res.json(await service.listHosts())],
  });
  route(router, '/hosts/:name', {
    get: [async (req, res) => void res.json(await service.getHost(param(req, 'name')))],
    put: [
      json,
      async (req, res) => {
        const name = param(req, 'name');
        const body = bodyOf(req, HostBody);
        checkNameMatches(body.name, name);
        const result = await service.putHost({
          name,
          type: body.type,
          tags: body.tags ?? [],
          properties: body.properties ?? {},
        });
        res.status(result.created ? 201 : 200).json(result.host);
      },
    ],
    delete: [
      async (req, res) => {
        await service.deleteHost(param(req, 'name'));
        res.status(204).end();
      },
    ],
  });

  // Environments
  route(router, '/environments', {
    get: [async (_req, res) => void res.json(await service.listEnvironments())],
  });
  route(router, '/environments/:name', {
    get: [async (req, res) => void res.json(await service.getEnvironment(param(req, 'name')))],
    put: [
      json,
      async (req, res) => {
        const name = param(req, 'name');
        const body = bodyOf(req, EnvironmentBody);
        checkNameMatches(body.name, name);
        const result = await service.putEnvironment({ name, hosts: body.hosts, dictionary: body.dictionary ?? {} });
        res.status(result.created ? 201 : 200).json(result.environment);
      },
    ],
  });
  route(router, '/environments/:name/deployed', {
    get: [async (req, res) => void res.json(await service.getDeployed(param(req, 'name')))],
  });

  // Packages
  route(router, '/packages', {
    post: [
      readBody(['json', 'yaml']),
      async (req, res) => {
        const pkg = await service.importPackage(req.body);
        const location = `${API_BASE_PATH}/applications/${encodeURIComponent(pkg.application)}/versions`;
        created(res, location, pkg);
      },
    ],
  });
  route(router, '/applications', {
    get: [async (_req, res) => void res.json(await service.listApplications())],
  });
  route(router, '/applications/:app/versions', {
    get: [async (req, res) => void res.json(await service.listVersions(param(req, 'app')))],
  });

  // Deployments and control tasks
  route(router, '/deployments/preview', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, DeploymentBody);
        res.json(await service.previewDeployment(toDeploymentRequest(body)));
      },
    ],
  });
  const taskCreated = (res: Response, task: TaskView) =>
    created(res, `${API_BASE_PATH}/tasks/${encodeURIComponent(task.id)}`, { taskId: task.id, task } satisfies CreatedTask);
  route(router, '/deployments', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, DeploymentBody);
        taskCreated(res, await service.createDeployment(toDeploymentRequest(body)));
      },
    ],
  });
  route(router, '/undeployments', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, UndeploymentBody);
        taskCreated(res, await service.createUndeployment({ application: body.application, environment: body.environment }));
      },
    ],
  });
  route(router, '/control-tasks', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, ControlTaskBody);
        const request = { target: body.target, control: body.control, parameters: body.parameters ?? {} };
        taskCreated(res, await service.createControlTask(request));
      },
    ],
  });

  // Tasks
  route(router, '/tasks', {
    get: [
      async (req, res) => {
        const query = queryOf(req, TaskListQuery);
        res.json(
          await service.listTasks({
            state: query.state as TaskState | 'UNKNOWN' | undefined,
            type: query.type as TaskType | undefined,
            worker: query.worker,
          }),
        );
      },
    ],
  });
  route(router, '/tasks/:id', {
    get: [async (req, res) => void res.json(await service.getTask(param(req, 'id')))],
    delete: [
      async (req, res) => {
        await service.removeTask(param(req, 'id'));
        res.status(204).end();
      },
    ],
  });
  route(router, '/tasks/:id/steps/:path/log', {
    get: [
      async (req, res) => {
        const log = await service.readStepLog(param(req, 'id'), stepPathParam(req));
        res.type('text/plain; charset=utf-8').send(log);
      },
    ],
  });
  for (const operation of ['start', 'stop', 'abort', 'cancel', 'archive'] as const satisfies readonly TaskOperation[]) {
    route(router, `/tasks/:id/${operation}`, {
      post: [async (req, res) => void res.json(await service.operate(param(req, 'id'), operation))],
    });
  }
  route(router, '/tasks/:id/schedule', {
    post: [
      json,
      async (req, res) => {
        const body = bodyOf(req, ScheduleBody);
        const at = parseIsoDate(body.at) as Date; // validated by ScheduleBody
        res.json(await service.operate(param(req, 'id'), 'schedule', { at }));
      },
    ],
  });
  const planChanges = {
    skip: (id: string, path: string) => service.skipStep(id, path),
    unskip: (id: string, path: string) => service.unskipStep(id, path),
    'pause-before': (id: string, path: string) => service.pauseBefore(id, path),
  };
  for (const [change, apply] of Object.entries(planChanges)) {
    route(router, `/tasks/:id/steps/:path/${change}`, {
      post: [async (req, res) => void res.json(await apply(param(req, 'id'), stepPathParam(req)))],
    });
  }

  // History and server
  route(router, '/archive/tasks', {
    get: [
      async (req, res) => {
        const query = queryOf(req, ArchiveQuery);
        checkRange(query);
        res.json(await service.listArchive(query));
      },
    ],
  });
  // Workers (spec §4): as this master sees them
  route(router, '/workers', {
    get: [async (_req, res) => void res.json(await service.listWorkers())],
  });
  route(router, '/workers/restore-ghost-tasks', {
    post: [async (_req, res) => void res.json(await service.restoreGhostTasks())],
  });
  route(router, '/workers/:id/drain', {
    post: [async (req, res) => void res.json(await service.drainWorker(param(req, 'id')))],
  });
  route(router, '/workers/:id', {
    delete: [
      async (req, res) => {
        await service.forgetWorker(param(req, 'id'));
        res.status(204).end();
      },
    ],
  });
  route(router, '/server/info', {
    get: [(_req, res) => void res.json(service.serverInfo())],
  });

  return router;
}

function toDeploymentRequest(body: DeploymentBody): DeploymentRequest {
  return {
    application: body.application,
    version: body.version,
    environment: body.environment,
    ...(body.skipSteps ? { skipSteps: body.skipSteps } : {}),
    ...(body.pauseBefore ? { pauseBefore: body.pauseBefore } : {}),
  };
}

function checkNameMatches(bodyName: string | undefined, pathName: string): void {
  if (bodyName === undefined || bodyName === pathName) return;
  const detail: FieldError = { field: 'name', message: `must match the name in the path (${pathName})` };
  throw invalid('request body', [detail]);
}

function checkRange(query: ArchiveQuery): void {
  if (!query.from || !query.to) return;
  if ((parseIsoDate(query.from) as Date) <= (parseIsoDate(query.to) as Date)) return;
  const detail: FieldError = { field: 'to', message: 'must not be before from' };
  throw invalid('query', [detail]);
}
