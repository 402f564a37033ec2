import { Router } from 'express';
import type { WorkerService } from '@shipdeck/master-services';
import { getJson, getPage, noContent, route } from '../routing';
import { param } from '../validation';

/** `/workers` (spec §4): the workers as this master sees them. */
export function workersRouter(workers: WorkerService): Router {
  const router = Router();
  route(router, '/workers', { get: getPage(() => workers.listWorkers()) });
  route(router, '/workers/restore-ghost-tasks', { post: getJson(() => workers.restoreGhostTasks()) });
  route(router, '/workers/:id/drain', { post: getJson((req) => workers.drainWorker(param(req, 'id'))) });
  route(router, '/workers/:id', { delete: noContent((req) => workers.forgetWorker(param(req, 'id'))) });
  return router;
}
