import { RequestHandler, Router } from 'express';
import type { HttpMetrics } from '@shipdeck/metrics';
import { API_BASE_PATH, route } from './routing';

/** What the master's `/metrics` serves: the HTTP sink, and the exposition of every metric of the process. */
export interface MetricsExposition extends HttpMetrics {
  /** The media type of {@link render}'s answer (the Prometheus text format). */
  readonly contentType: string;
  render(): Promise<string>;
}

/** Where the metrics are served, beside `/health` and outside the API: no credentials, like the probes. */
export const METRICS_PATH = '/metrics';

/**
 * Observes every request when it ends: method, status and duration, labelled with the route
 * pattern that served it (`/api/v1/tasks/:id`), never the raw path, so that the number of series
 * stays bounded. A request no route matched (an unknown path, or one refused before routing, such
 * as a 401) counts as `/api/v1/*` under the API and `unmatched` elsewhere.
 */
export function httpMetrics(sink: HttpMetrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    let pattern: string | undefined;
    // Express sets `req.route` when a route matches, while `req.baseUrl` is still the mount path of
    // its router; by the time an error handler has answered, the base URL is restored to the app's,
    // so the pattern is taken at that moment.
    let matched: unknown;
    Object.defineProperty(req, 'route', {
      configurable: true,
      enumerable: true,
      get: () => matched,
      set: (value: { path?: unknown } | undefined) => {
        matched = value;
        if (value && typeof value.path === 'string') pattern = req.baseUrl + value.path;
      },
    });
    res.once('close', () => {
      const unmatched = req.originalUrl === API_BASE_PATH || req.originalUrl.startsWith(`${API_BASE_PATH}/`) ? `${API_BASE_PATH}/*` : 'unmatched';
      sink.httpRequest({
        method: req.method,
        route: pattern ?? unmatched,
        status: res.writableFinished ? res.statusCode : 'aborted',
        durationSeconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    });
    next();
  };
}

/** `GET /metrics`: every metric of the process in the Prometheus text format. */
export function metricsRouter(metrics: MetricsExposition): Router {
  const router = Router();
  route(router, METRICS_PATH, {
    get: [
      async (_req, res) => {
        res.set('Content-Type', metrics.contentType).send(await metrics.render());
      },
    ],
  });
  return router;
}
