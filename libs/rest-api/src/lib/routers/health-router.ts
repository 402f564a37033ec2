import { Router } from 'express';
import { NotReadyError } from '@shipdeck/errors';
import type { Logger } from '@shipdeck/logging';
import type { ServerService } from '@shipdeck/master-services';
import { route } from '../routing';

/** Answer of `GET /health/live` and of a successful `GET /health/ready`. */
export interface HealthStatus {
  status: 'UP';
}

/** The probes, mounted under `/health`: live while the process answers, ready while it can serve. */
export function healthRouter(server: ServerService, logger: Logger): Router {
  const router = Router();
  const up: HealthStatus = { status: 'UP' };
  route(router, '/live', { get: [(_req, res) => void res.json(up)] });
  route(router, '/ready', {
    get: [
      async (_req, res) => {
        try {
          await server.checkReady();
        } catch (error) {
          if (error instanceof NotReadyError) throw error;
          // Readiness failures are 503 whatever their cause; the cause goes to the log only.
          logger.warn('readiness check failed', { error: error instanceof Error ? error.stack : String(error) });
          throw new NotReadyError('not ready');
        }
        res.json(up);
      },
    ],
  });
  return router;
}
