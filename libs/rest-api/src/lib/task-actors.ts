import type { AuditEntry, AuthService } from '@shipdeck/auth';
import type { TaskActor, TaskActors } from '@shipdeck/tasks';
import { API_BASE_PATH } from './routing';

/** The audited actions (as the audit trail names them) behind each of {@link TaskActors}. */
const ACTIONS: Readonly<Record<keyof TaskActors, readonly string[]>> = {
  createdBy: ['POST /deployments', 'POST /undeployments', 'POST /control-tasks'],
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
  const latest = async (routes: readonly string[]): Promise<TaskActor | null> => {
    const found = await Promise.all(
      routes.map(async (route) => {
        const [method, path] = route.split(' ') as [string, string];
        const [entry] = await auth.listAudit({ taskId, outcome: 'succeeded', action: `${method} ${API_BASE_PATH}${path}`, limit: 1 });
        return entry;
      }),
    );
    const newest = found.filter((e): e is AuditEntry => e !== undefined).sort((a, b) => b.seq - a.seq)[0];
    return newest ? { user: newest.username ?? '(unknown)', at: newest.at } : null;
  };
  const [createdBy, startedBy, stoppedBy, cancelledBy, archivedBy] = await Promise.all([
    latest(ACTIONS.createdBy),
    latest(ACTIONS.startedBy),
    latest(ACTIONS.stoppedBy),
    latest(ACTIONS.cancelledBy),
    latest(ACTIONS.archivedBy),
  ]);
  return { createdBy, startedBy, stoppedBy, cancelledBy, archivedBy };
}
