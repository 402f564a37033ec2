import { taskLogger } from '@shipdeck/logging';
import {
  ExecutionOutcome,
  PlanExecution,
  PlanStep,
  TaskAction,
  TaskRecord,
  TaskState,
  advanceTask,
  allows,
  nextState,
} from '@shipdeck/tasks';
import { RuntimeContext, nowIso, retryWrite } from './runtime-context';
import { stepFailure } from './interruption';
import { StepLogWriter } from './step-log-writer';

/**
 * One execution of a claimed task on this worker: runs the plan, checkpoints every step change
 * (recovery file first, then the database; the end of the run's last step goes with the run's
 * end), applies stop and abort requests at step boundaries, and records how the run ended. A run
 * that learns another worker adopted its task stops without writing anything more of it.
 */
export class TaskRun {
  readonly execution: PlanExecution;
  /** Another worker adopted the task: this run must not write anything of it any more. */
  lost = false;
  /** The run is recording its end: the recovery file holds the end, no checkpoint may overwrite it. */
  private ending = false;
  private readonly stepLog: StepLogWriter;

  constructor(
    private readonly context: RuntimeContext,
    readonly task: TaskRecord,
  ) {
    const { options } = context;
    this.stepLog = new StepLogWriter(options.logs, task.id, context.logger, options.stepLogFlushMs, options.clock);
    this.execution = new PlanExecution({
      taskId: task.id,
      plan: task.plan,
      executors: options.executors,
      workDir: options.workDir,
      now: () => new Date(options.clock.now()),
      hooks: {
        stepChanged: (step, endsRun) => this.stepChanged(step, endsRun),
        firstFailure: (step) => this.firstFailure(step),
        log: (step, text) => {
          this.stepLog.write(step.path, text);
          taskLogger(context.logger, task.id, step.path).debug(text.trimEnd());
        },
      },
    });
  }

  /** Executes the task; resolves when the run has ended and is recorded (or left for recovery). */
  async run(): Promise<void> {
    const { held } = this.context;
    const log = taskLogger(this.context.logger, this.task.id);
    held.running.set(this.task.id, this);
    // Per-task lines are debug (the claim and the end stay info): step states are in the database.
    log.debug(`executing task: ${this.task.description}`, { attempt: this.task.attempt });
    try {
      // No recovery file at the claim: the first step's EXECUTING write comes before any of its
      // effects, and a crash before it leaves the claim in the database, which recovery reads too.
      // No read of the state either: a stop or abort requested since the claim is answered by the
      // first step's EXECUTING save. An abort then keeps the step from starting; a stop lets it run
      // (a stop finishes the running step) and halts before the next.
      const outcome = await this.execution.run();
      await this.stepLog.flush();
      await this.finish(outcome);
    } catch (error) {
      log.error('task execution broke down; the task is left for recovery', { error: String(error) });
    } finally {
      // Once the end is recorded, the task may be started again and claimed here by a new run
      // before this one gets here: only this run's own entry is removed, and only it is finished.
      if (held.running.get(this.task.id) === this) {
        held.running.delete(this.task.id);
        if (!this.lost) held.finished.set(this.task.id, this.task);
      }
    }
  }

  /** Applies a stop or abort the master recorded in the task's state. */
  applyState(state: TaskState | undefined): void {
    if (state === 'STOPPING') this.execution.requestStop();
    if (state === 'ABORTING') this.execution.requestAbort();
  }

  /** Writes the recovery file between step transitions, if the task changed since the last write. */
  async checkpoint(): Promise<void> {
    if (this.lost || this.ending) return;
    await this.context.files.refresh(this.task).catch((error: unknown) =>
      this.context.logger.warn('could not write recovery file', { taskId: this.task.id, error: String(error) }),
    );
  }

  /** The database says the task is not ours: adopted by another worker, or removed (a ghost). */
  async noLongerOwned(): Promise<void> {
    const { options, held, files } = this.context;
    const current = await options.tasks.get(this.task.id).catch(() => undefined);
    if (current === null) {
      held.ghosts.add(this.task.id);
      return;
    }
    if (current && current.workerId !== options.workerId && !this.lost) {
      this.lost = true;
      taskLogger(this.context.logger, this.task.id).warn(
        `worker ${current.workerId} adopted this task: stopping it here without recording anything`,
      );
      this.execution.requestAbort('another worker adopted this task');
      await files.remove(this.task.id);
    }
  }

  private async stepChanged(step: PlanStep, endsRun: boolean): Promise<void> {
    taskLogger(this.context.logger, this.task.id, step.path).debug(`step ${step.state}: ${step.description}`);
    const ended = step.state === 'DONE' || step.state === 'FAILED';
    if (ended) this.stepEnded(step);
    // No step starts after this one: the run's end (finish) records it, in the recovery file and
    // the database alike, one write each instead of two.
    if (endsRun) return;
    if (ended) await this.stepLog.flush();
    // Every plan save answers the task's state (no second query): a stop or abort requested
    // through any master takes effect at a step's start as at its end, before the next step.
    this.applyState(await this.savePlan());
  }

  private stepEnded(step: PlanStep): void {
    if (step.state !== 'DONE' && step.state !== 'FAILED') return;
    const started = step.startedAt ? Date.parse(step.startedAt) : NaN;
    const completed = step.completedAt ? Date.parse(step.completedAt) : NaN;
    // A step that failed before it started (e.g. no executor) took no time.
    const durationSeconds = Number.isNaN(started) || Number.isNaN(completed) ? 0 : (completed - started) / 1000;
    this.context.options.metrics.stepEnded({ stepType: step.ciType, outcome: step.state, durationSeconds });
  }

  /** FAILING shows that parallel siblings are finishing; an ABORTING task stays ABORTING. */
  private async firstFailure(step: PlanStep): Promise<void> {
    const { options } = this.context;
    const current = await options.tasks.get(this.task.id).catch(() => null);
    if (!current || !allows(current.state, 'stepFailed') || this.lost) return;
    const failing = await advanceTask(options.tasks, this.task.id, 'stepFailed', undefined, options.workerId).catch(
      (error: unknown) => {
        taskLogger(this.context.logger, this.task.id).debug('task moved on before it could show FAILING', {
          step: step.path,
          error: String(error),
        });
        return null;
      },
    );
    if (failing) this.task.state = failing.state;
  }

  /**
   * Checkpoints the running task: recovery file first (always possible), then the database.
   * Answers the task's state as the database holds it, undefined when the task is not ours.
   */
  private async savePlan(): Promise<TaskState | undefined> {
    if (this.lost) return undefined;
    const { options, files } = this.context;
    await files.write(this.task);
    const state = await retryWrite(this.context, `saving the plan of task ${this.task.id}`, () =>
      options.tasks.savePlan(this.task.id, options.workerId, this.task.plan),
    );
    if (state === null) await this.noLongerOwned();
    return state ?? undefined;
  }

  /** Whether this run is still the one this worker holds for its task (no newer run of it was claimed here). */
  private current(): boolean {
    return this.context.held.running.get(this.task.id) === this;
  }

  /** Records how the run ended, retrying while the database is unreachable. */
  private async finish(outcome: ExecutionOutcome): Promise<void> {
    const { options, files, held } = this.context;
    const { task } = this;
    const log = taskLogger(this.context.logger, task.id);
    if (this.lost) {
      log.warn(`run ended (${outcome}) after another worker adopted the task; nothing recorded`);
      return;
    }
    const failure = stepFailure(task.plan);
    const completedAt = nowIso(this.context);
    // The end carries the last step's end (not written on its own): recovery file first, as for
    // every step change, then the database. A crash between the two leaves a file with the end and
    // the task still active in the database: recovery ends it from the file's plan, EXECUTED when
    // every step is DONE, FAILED with the step's own failure otherwise (see interruptionAction).
    // The other order would leave the last step EXECUTING in the file of a task that rests done.
    this.ending = true;
    const expected = { ...task, state: nextState(task.state, finishingAction(task, outcome)) ?? task.state, failure, completedAt };
    await files.write(expected);
    const final = await retryWrite(this.context, `recording the end of task ${task.id}`, () =>
      advanceTask(
        options.tasks,
        task.id,
        (current) => finishingAction(current, outcome),
        () => ({ plan: task.plan, failure, completedAt }),
        options.workerId,
        // The state this run knows (EXECUTING, or FAILING): right unless a master changed it meanwhile.
        task,
      ),
    );
    if (final) {
      Object.assign(task, final);
      // A stop or abort recorded meanwhile decided another end than the file's. Once the end is in
      // the database the task may have been started again and claimed here by a newer run, whose
      // file this run must not overwrite.
      if (task.state !== expected.state && this.current()) await files.write(task);
    } else if (!(await options.tasks.get(task.id))) {
      // The monitor cannot record how the run ended; the ghost itself must, or restoring it would
      // show an EXECUTING task that nothing executes any more.
      Object.assign(task, {
        state: nextState(task.state, finishingAction(task, outcome)) ?? task.state,
        failure,
        completedAt: nowIso(this.context),
      });
      held.ghosts.add(task.id);
      await files.write(task);
      log.warn(`the task was removed from the monitor while it ran here: it is a ghost task on this worker now (${task.state})`);
    } else {
      this.lost = true;
      if (this.current()) await files.remove(task.id);
    }
    log.info(`task ${final?.state ?? 'not recorded'} (run ${outcome})`);
  }
}

/** The event that ends a run, given what the master asked meanwhile (the task's current state). */
function finishingAction(current: TaskRecord, outcome: ExecutionOutcome): TaskAction {
  if (current.state === 'ABORTING') return 'aborted';
  if (outcome === 'aborted') return 'failed';
  return outcome;
}
