import { randomUUID } from 'node:crypto';
import express, { Application, RequestHandler } from 'express';
import helmet from 'helmet';
import { AuthService, StoreAuditRecorder, AuthStore, auditTrail, authErrorHandler, authenticate } from '@shipdeck/auth';
import type { TrustProxy } from '@shipdeck/config';
import type { Logger } from '@shipdeck/logging';
import type { MasterServices } from '@shipdeck/master-services';
import { PrometheusMetrics } from '@shipdeck/metrics';
import { setAccessContext } from './access-policy';
import { apiRouter } from './api-router';
import { errorHandler, notFoundHandler } from './http-errors';
import { MetricsExposition, httpMetrics, metricsRouter } from './http-metrics';
import { OpenApiDocument, buildOpenApiDocument } from './openapi/openapi-document';
import { API_DOCS_PATH, apiDocsRouter, openApiRouter } from './openapi/openapi-router';
import { refuseCrossSiteRequests, refuseUnknownHosts } from './request-guards';
import { authRouter } from './routers/auth-router';
import { healthRouter } from './routers/health-router';
import { API_BASE_PATH } from './routing';
import { maskSecrets } from './secret-masking';

/** What {@link createRestApp} needs. */
export interface RestAppOptions {
  /** The master's services; every domain rule is enforced there. */
  services: MasterServices;
  /** Receives the access log (debug) and every failed request (5xx at error, the rest at debug). */
  logger: Logger;
  /** Who may do what: every route but health and login needs credentials (docs/security.md). */
  auth: {
    service: AuthService;
    /** Where the audit trail is written. */
    store: AuthStore;
    /** Workers present it (as `Authorization: Cluster …`) when they call the API; null: no worker access. */
    clusterSecret: string | null;
    /** Host header values accepted; empty: any. */
    allowedHosts: readonly string[];
    /** Mark the session cookie `Secure`. */
    secureCookies: boolean;
    /**
     * Express's `trust proxy` (`server.trustProxy`): which proxies' `X-Forwarded-For` gives the
     * client address (`req.ip`) the login rate limit and the audit use.
     * @default false: the connecting address is the client's
     */
    trustProxy?: TrustProxy;
  };
  /**
   * Receives every request's observation and serves `GET /metrics`.
   * @default a registry of the app's own, with the HTTP metrics only
   */
  metrics?: MetricsExposition;
}

const REQUEST_ID = /^[\w.:-]{1,128}$/;

/**
 * Builds the master's HTTP application: the REST API of spec §6 under `/api/v1`, the health
 * probes under `/health`, the Prometheus metrics at `/metrics`, the OpenAPI document at
 * `/api/v1/openapi.json` with its reference page at `/api-docs/`, JSON errors for everything else
 * (unknown path 404, wrong method 405). The caller owns the listening server.
 */
export function createRestApp({
  services,
  logger,
  auth,
  metrics = new PrometheusMetrics({ component: 'master', processMetrics: false }),
}: RestAppOptions): Application {
  const app = express();
  app.disable('x-powered-by');
  app.disable('etag');
  app.set('trust proxy', auth.trustProxy ?? false);
  app.set('json replacer', maskSecrets);
  setAccessContext(app.locals, { taskEnvironment: (id) => services.tasks.environmentOf(id) });
  app.use(httpMetrics(metrics));
  app.use(helmet());
  app.use(refuseUnknownHosts(auth.allowedHosts));
  app.use(requestContext(logger));
  app.use('/health', healthRouter(services.server, logger));
  app.use(metricsRouter(metrics));
  let document: OpenApiDocument | undefined;
  app.use(API_BASE_PATH, openApiRouter(() => (document ??= buildOpenApiDocument(services.server.serverInfo().version))));
  app.use(API_DOCS_PATH, apiDocsRouter());
  app.use(auditTrail({ recorder: new StoreAuditRecorder(auth.store), logger }));
  app.use(API_BASE_PATH, authRouter({ auth: auth.service, secureCookies: auth.secureCookies }));
  app.use(API_BASE_PATH, authenticate({ auth: auth.service, clusterSecret: auth.clusterSecret }), refuseCrossSiteRequests());
  app.use(API_BASE_PATH, apiRouter(services, auth.service));
  app.use(notFoundHandler());
  app.use(authErrorHandler());
  app.use(errorHandler(logger));
  return app;
}

/** Gives each request an id (echoed in `X-Request-Id`) and writes one access log line when it ends. */
function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const incoming = req.get('x-request-id');
    const requestId = incoming && REQUEST_ID.test(incoming) ? incoming : randomUUID();
    res.locals['requestId'] = requestId;
    res.set('X-Request-Id', requestId);
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const durationMs = Number((process.hrtime.bigint() - started) / 1000n) / 1000;
      const status = res.writableFinished ? res.statusCode : 'aborted';
      logger.debug(`${req.method} ${req.originalUrl} ${status} ${durationMs}ms`, {
        method: req.method,
        url: req.originalUrl,
        status,
        durationMs,
        requestId,
      });
    });
    next();
  };
}
