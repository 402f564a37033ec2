import { Router } from 'express';
import type { AuthService } from '@shipdeck/auth';
import type { MasterServices } from '@shipdeck/master-services';
import { auditRouter } from './routers/audit-router';
import { archiveRouter } from './routers/archive-router';
import { controlTasksRouter } from './routers/control-tasks-router';
import { deploymentsRouter } from './routers/deployments-router';
import { environmentsRouter } from './routers/environments-router';
import { eventsRouter } from './routers/events-router';
import { hostsRouter } from './routers/hosts-router';
import { packagesRouter } from './routers/packages-router';
import { serverRouter } from './routers/server-router';
import { taskEventsRouter } from './routers/task-events-router';
import { tasksRouter } from './routers/tasks-router';
import { tokensRouter } from './routers/tokens-router';
import { usersRouter } from './routers/users-router';
import { workersRouter } from './routers/workers-router';

/**
 * Every route of spec §6, relative to the API base path: one router per resource, each mounted
 * without a prefix of its own so that paths in messages read as the client sent them.
 */
export function apiRouter(services: MasterServices, auth: AuthService): Router {
  const router = Router();
  router.use(hostsRouter(services.catalog));
  router.use(environmentsRouter(services.catalog));
  router.use(packagesRouter(services.catalog));
  router.use(deploymentsRouter(services.deployments));
  router.use(controlTasksRouter(services.controlTasks));
  router.use(tasksRouter(services.tasks, auth));
  router.use(taskEventsRouter(services.tasks));
  router.use(eventsRouter(services.tasks));
  router.use(archiveRouter(services.tasks));
  router.use(workersRouter(services.workers));
  router.use(serverRouter(services.server));
  router.use(usersRouter(auth));
  router.use(tokensRouter(auth));
  router.use(auditRouter(auth));
  return router;
}
