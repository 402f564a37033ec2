import { ApiError } from './client';
import { CliError, Session } from './session';

/** A full task id (a UUID): used as given, without looking anything up. */
const FULL_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Resolves a task id given in full or as a unique prefix (like git): current and archived tasks
 * are searched. Ambiguity is an error listing the candidates; a prefix nothing starts with is
 * passed on as it is, so that the master answers TASK_NOT_FOUND for it.
 */
export async function resolveTaskId(s: Session, given: string): Promise<string> {
  if (FULL_ID.test(given)) return given;
  const ids = new Map<string, string>();
  for (const path of ['/tasks', '/archive/tasks']) {
    for (const task of await listOrNothing<{ id?: unknown; state?: unknown; description?: unknown }>(s, path)) {
      if (typeof task.id === 'string' && task.id.toLowerCase().startsWith(given.toLowerCase())) {
        ids.set(task.id, `${task.id}  ${String(task.state ?? '')}  ${String(task.description ?? '')}`.trimEnd());
      }
    }
  }
  if (ids.has(given)) return given;
  if (ids.size === 1) return [...ids.keys()][0];
  if (ids.size > 1) throw ambiguous(`task id prefix ${given}`, [...ids.values()]);
  return given;
}

/**
 * Resolves a worker given by id, unique id prefix or name (`local-1`). A name several workers
 * share, or a prefix of several ids, is an error listing them; anything else is passed on as it
 * is, so that the master answers WORKER_NOT_FOUND for it.
 */
export async function resolveWorkerId(s: Session, given: string): Promise<string> {
  const workers = await listOrNothing<{ id?: unknown; name?: unknown; state?: unknown }>(s, '/workers');
  const known = workers.filter((w): w is { id: string; name?: unknown; state?: unknown } => typeof w.id === 'string');
  const line = (w: { id: string; name?: unknown; state?: unknown }) => `${w.id}  ${String(w.name ?? '')}  ${String(w.state ?? '')}`.trimEnd();
  if (known.some((w) => w.id === given)) return given;
  const named = known.filter((w) => w.name === given);
  if (named.length === 1) return named[0].id;
  if (named.length > 1) throw ambiguous(`worker name ${given}`, named.map(line));
  const prefixed = known.filter((w) => w.id.startsWith(given));
  if (prefixed.length === 1) return prefixed[0].id;
  if (prefixed.length > 1) throw ambiguous(`worker id prefix ${given}`, prefixed.map(line));
  return given;
}

/** A list, or nothing when the master has no such list (an older master): the id is then used as given. */
async function listOrNothing<T>(s: Session, path: string): Promise<T[]> {
  try {
    return await s.client.list<T>(path);
  } catch (error) {
    if (error instanceof ApiError && (error.status === 404 || error.status === 405 || error.status === 501)) return [];
    throw error;
  }
}

function ambiguous(what: string, candidates: string[]): CliError {
  return new CliError(`${what} is ambiguous; it matches:\n${candidates.map((c) => `  ${c}`).join('\n')}\ngive more characters or the full id`);
}
