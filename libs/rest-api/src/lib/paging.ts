import { IsOptional, Matches } from 'class-validator';
import type { TaskView } from '@shipdeck/tasks';
import { invalid } from './validation';

/*
 * Every list of the API is paged (spec §6): `?limit=&cursor=` in, `{items, nextCursor}` out.
 * The services answer whole lists (bounded by what the catalog and the task monitor hold); the
 * page is cut here so that no answer grows with the database.
 */

/** Items per page when the request names no `limit`. */
export const DEFAULT_PAGE_SIZE = 100;
/** The largest `limit` accepted. */
export const MAX_PAGE_SIZE = 1_000;

/** One page of a list. */
export interface Page<T> {
  items: T[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
}

/** The paging parameters every list query accepts; list query DTOs extend it. */
export class PageQuery {
  @IsOptional()
  @Matches(/^\d{1,4}$/, { message: `must be an integer from 1 to ${MAX_PAGE_SIZE}` })
  limit?: string;

  /** Opaque: the `nextCursor` of the page before. */
  @IsOptional()
  @Matches(/^c[0-9a-z]{1,12}$/, { message: 'must be a nextCursor of an earlier page' })
  cursor?: string;
}

/** Where a page starts and how long it is, read from a validated {@link PageQuery}. */
export interface PageRequest {
  offset: number;
  limit: number;
}

/** The page a validated query asks for; 400 naming `limit` when it is out of range. */
export function pageRequest(query: PageQuery): PageRequest {
  const limit = query.limit === undefined ? DEFAULT_PAGE_SIZE : Number(query.limit);
  if (limit < 1 || limit > MAX_PAGE_SIZE) {
    throw invalid('query', [{ field: 'limit', message: `must be an integer from 1 to ${MAX_PAGE_SIZE}` }]);
  }
  // A cursor is the position of the next item, base 36 behind a `c`, so it reads as a token, not a number to compute with.
  const offset = query.cursor === undefined ? 0 : parseInt(query.cursor.slice(1), 36);
  return { offset, limit };
}

/** The page of `all` that `page` asks for. */
export function pageOf<T>(all: readonly T[], page: PageRequest): Page<T> {
  const end = page.offset + page.limit;
  return { items: all.slice(page.offset, end), nextCursor: end < all.length ? `c${end.toString(36)}` : null };
}

/** A task in a list: everything but its plan and steps, which `GET /tasks/{id}` answers. */
export type TaskSummary = Omit<TaskView, 'plan' | 'steps'> & {
  /** How many steps the plan has, and how many of them are done or skipped. */
  stepCount: number;
  stepsDone: number;
};

/** The list form of a task view. */
export function summarizeTask(task: TaskView): TaskSummary {
  const { plan: _plan, steps, ...rest } = task;
  return { ...rest, stepCount: steps.length, stepsDone: steps.filter((s) => s.state === 'DONE' || s.state === 'SKIPPED').length };
}
