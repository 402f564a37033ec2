export { createRestApp, type RestAppOptions } from './lib/app';
export type { HealthStatus } from './lib/routers/health-router';
export { API_BASE_PATH, type CreatedTask } from './lib/routing';
export { BODY_LIMIT_BYTES } from './lib/body';
export { STATUS_BY_CODE, toErrorAnswer, type ErrorAnswer, type ErrorBody } from './lib/http-errors';
export { METRICS_PATH, type MetricsExposition } from './lib/http-metrics';
export { buildOpenApiDocument, type OpenApiDocument } from './lib/openapi/openapi-document';
export { API_DOCS_PATH } from './lib/openapi/openapi-router';
export { ROUTE_POLICIES, type RoutePolicy } from './lib/access-policy';
