import { taskLogger } from '@shipdeck/logging';
import { FINAL_STATES, TaskRecord, advanceTask, isActive, nextState } from '@shipdeck/tasks';
import { RuntimeContext, nowIso } from './runtime-context';
import { INTERRUPTED_BETWEEN_STEPS, interruptPlan, interruptionAction, stepFailure } from './interruption';

/** What a worker did to get back on its feet, for logs and tests. */
export interface RecoveryReport {
  recovered: string[];
  quarantined: string[];
  ghosts: string[];
}

/**
 * Restart recovery (spec §5) and ghost tasks: ends the active tasks a previous run (or a run that
 * broke down) left behind, with the step that was executing FAILED, and keeps the tasks this
 * worker holds that the monitor no longer knows until a user registers them again.
 */
export class TaskRecovery {
  constructor(private readonly context: RuntimeContext) {}

  /**
   * Recovery files first (the worker's own record, possibly newer than the database), then active
   * tasks the database says this worker owns, also those without a file (a crash right after the
   * claim, before the first file was renamed into place): what the worker knows is a superset of
   * its claims. The tasks wait for the user in FAILED.
   */
  async recover(): Promise<RecoveryReport> {
    const { options, files, held } = this.context;
    const report: RecoveryReport = { recovered: [], quarantined: [], ghosts: [] };
    const found = await files.readAll();
    if (found.staleTemporaries.length > 0) {
      // A crash between creating a recovery file and renaming it into place (the tasks, if owned, are recovered below).
      this.context.logger.warn('removed temporary recovery files a crash left', { files: found.staleTemporaries });
    }
    for (const bad of found.quarantined) {
      report.quarantined.push(bad.taskId);
      taskLogger(this.context.logger, bad.taskId).error(`unreadable recovery file moved to ${bad.movedTo}: ${bad.reason}`);
      const task = await options.tasks.get(bad.taskId);
      if (task && task.workerId === options.workerId && isActive(task.state)) {
        await this.recoverActive(task, task.plan, `recovery file unreadable (${bad.reason}); moved to ${bad.movedTo}`);
        report.recovered.push(task.id);
      }
    }
    for (const file of found.files) {
      const task = await options.tasks.get(file.task.id);
      if (task === null) {
        // Interrupted like any other task, so that restoring the ghost shows it FAILED, not EXECUTING.
        const ghost = isActive(file.task.state) ? this.interruptedLocally(file.task) : file.task;
        if (ghost !== file.task) await files.write(ghost);
        held.finished.set(ghost.id, ghost);
        held.ghosts.add(ghost.id);
        report.ghosts.push(ghost.id);
        taskLogger(this.context.logger, ghost.id).warn(`recovered a task the monitor no longer knows: a ghost task (${ghost.state})`);
      } else if (task.workerId !== options.workerId || FINAL_STATES.includes(task.state)) {
        await files.remove(task.id);
      } else if (isActive(task.state)) {
        await this.recoverActive(task, file.task.plan);
        report.recovered.push(task.id);
      } else {
        held.finished.set(task.id, task);
      }
    }
    for (const task of await options.tasks.activeOwnedBy(options.workerId)) {
      if (report.recovered.includes(task.id)) continue;
      await this.recoverActive(task, task.plan);
      report.recovered.push(task.id);
    }
    if (report.recovered.length + report.quarantined.length + report.ghosts.length > 0) {
      this.context.logger.warn('recovery after restart', { ...report });
    }
    return report;
  }

  /** Ends an active task this worker holds but does not run: interrupted steps FAILED. */
  async recoverActive(task: TaskRecord, plan: TaskRecord['plan'], reason?: string): Promise<void> {
    const { options, files, held } = this.context;
    const recoveredPlan = interruptPlan(plan);
    const action = interruptionAction(task, recoveredPlan);
    const failure = reason ?? stepFailure(recoveredPlan) ?? (action === 'interrupted' ? INTERRUPTED_BETWEEN_STEPS : null);
    const recovered = await advanceTask(
      options.tasks,
      task.id,
      (current) => (current.state === 'ABORTING' ? 'aborted' : action),
      () => ({ plan: recoveredPlan, failure, completedAt: nowIso(this.context) }),
      options.workerId,
      // Just read by the caller: the compare-and-set on its state goes first, without a second read.
      task,
    );
    if (!recovered) return;
    held.finished.set(recovered.id, recovered);
    await files.write(recovered);
    taskLogger(this.context.logger, task.id).warn(`recovered interrupted task as ${recovered.state}`);
  }

  /**
   * Registers the ghost tasks again: tasks this worker holds that were removed from the monitor
   * while it was gone. Answers their ids.
   */
  async restoreGhostTasks(): Promise<string[]> {
    const { options, held } = this.context;
    const restored: string[] = [];
    for (const id of [...held.ghosts]) {
      const task = held.recordOf(id);
      if (!task) continue;
      try {
        await options.tasks.insert({ ...task, workerId: options.workerId });
        restored.push(id);
      } catch (error) {
        // Already back (another restore, or a race with the monitor): it is not a ghost any more.
        this.context.logger.debug('ghost task could not be inserted again', { taskId: id, error: String(error) });
        if (!(await options.tasks.get(id))) continue;
      }
      held.ghosts.delete(id);
      taskLogger(this.context.logger, id).info('ghost task registered again');
    }
    return restored;
  }

  /** An active task that no database row backs any more, ended as {@link recoverActive} ends one in the database. */
  private interruptedLocally(task: TaskRecord): TaskRecord {
    const plan = interruptPlan(task.plan);
    return {
      ...task,
      plan,
      state: nextState(task.state, interruptionAction(task, plan)) ?? task.state,
      failure: stepFailure(plan),
      completedAt: nowIso(this.context),
    };
  }
}
