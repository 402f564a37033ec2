export { createRestApp, type RestAppOptions, type HealthStatus } from './lib/app';
export { API_BASE_PATH, type CreatedTask } from './lib/api-routes';
export { BODY_LIMIT_BYTES } from './lib/body';
export { STATUS_BY_CODE, toErrorAnswer, type ErrorAnswer, type ErrorBody } from './lib/http-errors';
