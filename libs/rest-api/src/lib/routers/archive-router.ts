import { Router } from 'express';
import type { TaskOperationsService } from '@shipdeck/master-services';
import { ArchiveQuery } from '../dtos';
import { getJson, route } from '../routing';
import { pageOf, pageRequest, summarizeTask } from '../paging';
import { checkTimeWindow, queryOf } from '../validation';

/** `/archive/tasks`: DONE and CANCELLED tasks, filtered by completion time and deployment. */
export function archiveRouter(tasks: TaskOperationsService): Router {
  const router = Router();
  route(router, '/archive/tasks', {
    get: getJson(async (req) => {
      const query = queryOf(req, ArchiveQuery);
      checkTimeWindow(query);
      const page = pageOf(await tasks.listArchive(query), pageRequest(query));
      return { items: page.items.map(summarizeTask), nextCursor: page.nextCursor };
    }),
  });
  return router;
}
