import type { AuditEntry, AuthService } from '@shipdeck/auth';
import type { TaskActor, TaskActors } from '@shipdeck/tasks';
import { API_BASE_PATH, STARTED_ON_CREATE } from './routing';

/** The audited actions (as the audit trail names them) behind each of {@link TaskActors}. */
const ACTIONS: Readonly<Record<keyof TaskActors, readonly string[]>> = {
  createdBy: ['POST /deployments', 'POST /undeployments', 'POST /control-tasks'],
  // Also a creation with `start: true` (its entry's detail says so), see below.
  startedBy: ['POST /tasks/:id/start'],
  stoppedBy: ['POST /tasks/:id/stop', 'POST /tasks/:id/abort'],
  cancelledBy: ['POST /tasks/:id/cancel'],
  archivedBy: ['POST /tasks/:id/archive'],
};

/**
 * Who acted on task `taskId`: for each kind of action the latest successful one in the audit
 * trail. One indexed query per action, each for its newest entry only, so that a task operated
 * many times costs no more than one operated once.
 */
export async function taskActors(auth: AuthService, taskId: string): Promise<TaskActors> {
  const latest = async (routes: readonly string[]): Promise<AuditEntry | undefined> => {
    const found = await Promise.all(
      routes.map(async (route) => {
        const [method, path] = route.split(' ') as [string, string];
        const [entry] = await auth.listAudit({ taskId, outcome: 'succeeded', action: `${method} ${API_BASE_PATH}${path}`, limit: 1 });
        return entry;
      }),
    );
    return newest(found);
  };
  const [created, started, stopped, cancelled, archived] = await Promise.all([
    latest(ACTIONS.createdBy),
    latest(ACTIONS.startedBy),
    latest(ACTIONS.stoppedBy),
    latest(ACTIONS.cancelledBy),
    latest(ACTIONS.archivedBy),
  ]);
  const startedOnCreate = created?.detail === STARTED_ON_CREATE ? created : undefined;
  return {
    createdBy: actor(created),
    startedBy: actor(newest([started, startedOnCreate])),
    stoppedBy: actor(stopped),
    cancelledBy: actor(cancelled),
    archivedBy: actor(archived),
  };
}

function newest(entries: ReadonlyArray<AuditEntry | undefined>): AuditEntry | undefined {
  return entries.filter((e): e is AuditEntry => e !== undefined).sort((a, b) => b.seq - a.seq)[0];
}

function actor(entry: AuditEntry | undefined): TaskActor | null {
  return entry ? { user: entry.username ?? '(unknown)', at: entry.at } : null;
}
