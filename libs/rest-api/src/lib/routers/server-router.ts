import { Router } from 'express';
import type { ServerService } from '@shipdeck/master-services';
import { getJson, route } from '../routing';

/** `/server/info`: this master's version, id and configuration hash. */
export function serverRouter(server: ServerService): Router {
  const router = Router();
  route(router, '/server/info', { get: getJson(() => server.serverInfo()) });
  return router;
}
