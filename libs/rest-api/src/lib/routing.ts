import { Request, RequestHandler, Response, Router } from 'express';
import { ErrorCode, FieldError, ValidationError } from '@shipdeck/errors';
import { methodNotAllowed } from './http-errors';
import { DtoClass, invalid, isPlainObject, STEP_PATH_PATTERN, validateDto } from './validation';

type Method = 'get' | 'put' | 'post' | 'delete';

/** The handlers of one path, by method; each entry is the middleware chain of that method. */
export type MethodHandlers = Partial<Record<Method, RequestHandler[]>>;

/**
 * Registers the handlers of `path` and answers any other method with 405 (and OPTIONS with the
 * allowed methods), so that a wrong method is told apart from an unknown path.
 */
export function route(router: Router, path: string, handlers: MethodHandlers): void {
  const r = router.route(path);
  const allowed: string[] = [];
  for (const method of ['get', 'put', 'post', 'delete'] as const) {
    const chain = handlers[method];
    if (!chain) continue;
    r[method](...chain);
    allowed.push(method.toUpperCase());
  }
  r.all(methodNotAllowed(allowed));
}

/** The validated body of a request; `readBody` has already ensured it is a plain object. */
export function bodyOf<T extends object>(req: Request, dto: DtoClass<T>): T {
  const body: unknown = req.body;
  if (!isPlainObject(body)) throw new ValidationError('the request body must be an object', [], ErrorCode.MALFORMED_BODY);
  return validateDto(dto, body, 'request body');
}

/** The validated query string of a request. */
export function queryOf<T extends object>(req: Request, dto: DtoClass<T>): T {
  return validateDto(dto, { ...(req.query as Record<string, unknown>) }, 'query');
}

/** A path parameter; express guarantees it is present on a matching route. */
export function param(req: Request, name: string): string {
  const value: unknown = req.params[name];
  if (typeof value !== 'string' || value === '') {
    throw invalid('path parameter', [{ field: name, message: 'is required' }]);
  }
  return value;
}

/** The step path parameter, checked against `phase[-block[-step]]`. */
export function stepPathParam(req: Request): string {
  const path = param(req, 'path');
  if (!STEP_PATH_PATTERN.test(path)) {
    const detail: FieldError = { field: 'path', message: `must be a step path like 1-2-3, not ${JSON.stringify(path)}` };
    throw invalid('path parameter', [detail]);
  }
  return path;
}

/** Answers 201 Created with a Location header. */
export function created(res: Response, location: string, body: unknown): void {
  res.status(201).location(location).json(body);
}
