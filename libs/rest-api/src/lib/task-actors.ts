import type { AuditEntry, AuthService } from '@shipdeck/auth';
import type { TaskActor, TaskActors } from '@shipdeck/tasks';
import { API_BASE_PATH, STARTED_ON_CREATE } from './routing';

/** The audited actions (as the audit trail names them) behind each of {@link TaskActors}. */
const ACTIONS: Readonly<Record<keyof TaskActors, readonly string[]>> = {
  createdBy: ['POST /deployments', 'POST /undeployments', 'POST /control-tasks'],
  // Also a creation with `start: true` (its entry's detail says so), see taskActors.
  startedBy: ['POST /tasks/:id/start'],
  stoppedBy: ['POST /tasks/:id/stop', 'POST /tasks/:id/abort'],
  cancelledBy: ['POST /tasks/:id/cancel'],
  archivedBy: ['POST /tasks/:id/archive'],
};

/** The audit trail names an action `METHOD /api/v1/path` (the route's pattern); its kind of actor. */
const KIND_OF_ACTION: ReadonlyMap<string, keyof TaskActors> = new Map(
  (Object.entries(ACTIONS) as [keyof TaskActors, readonly string[]][]).flatMap(([kind, routes]) =>
    routes.map((route): [string, keyof TaskActors] => {
      const [method, path] = route.split(' ') as [string, string];
      return [`${method} ${API_BASE_PATH}${path}`, kind];
    }),
  ),
);

/** Audit entries read per query; a task rarely has more than a handful. */
const PAGE = 200;

/**
 * Who acted on task `taskId`: for each kind of action the latest successful one in the audit
 * trail. The task's successful entries are read newest first in one indexed query (a page at a
 * time for a task operated very often), not one query per kind: GET /tasks/{id} is read often.
 */
export async function taskActors(auth: AuthService, taskId: string): Promise<TaskActors> {
  const latest: Partial<Record<keyof TaskActors, AuditEntry>> = {};
  let beforeSeq: number | undefined;
  for (;;) {
    const page = await auth.listAudit({ taskId, outcome: 'succeeded', limit: PAGE, ...(beforeSeq === undefined ? {} : { beforeSeq }) });
    for (const entry of page) {
      const kind = KIND_OF_ACTION.get(entry.action);
      if (kind === undefined) continue;
      latest[kind] ??= entry;
      // A creation with start: true started the task too (unless a later start did again).
      if (kind === 'createdBy' && entry.detail === STARTED_ON_CREATE) latest.startedBy ??= entry;
    }
    if (page.length < PAGE) break;
    beforeSeq = page[page.length - 1].seq;
  }
  return {
    createdBy: actor(latest.createdBy),
    startedBy: actor(latest.startedBy),
    stoppedBy: actor(latest.stoppedBy),
    cancelledBy: actor(latest.cancelledBy),
    archivedBy: actor(latest.archivedBy),
  };
}

function actor(entry: AuditEntry | undefined): TaskActor | null {
  return entry ? { user: entry.username ?? '(unknown)', at: entry.at } : null;
}
