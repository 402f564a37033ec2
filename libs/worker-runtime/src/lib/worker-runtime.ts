import { isRetryable } from '@shipdeck/errors';
import { retryUntil } from '@shipdeck/lifecycle';
import { Logger, taskLogger } from '@shipdeck/logging';
import { StepLogStore, TaskStore, advanceTask, allows } from '@shipdeck/persistence';
import { Delivery, TASK_MESSAGE_VERSION, TaskConsumer, TaskQueue } from '@shipdeck/queue';
import {
  ExecutionOutcome,
  FINAL_STATES,
  PlanExecution,
  PlanStep,
  StepExecutorLookup,
  TaskAction,
  TaskRecord,
  flattenSteps,
  isActive,
  nextState,
} from '@shipdeck/tasks';
import { INTERRUPTED_BETWEEN_STEPS, interruptPlan, interruptionAction } from './interruption';
import { RecoveryFiles } from './recovery-files';
import { StepLogWriter } from './step-log-writer';

/** Options of a worker runtime; every default and unit conversion is done by the caller's config. */
export interface WorkerRuntimeOptions {
  /** Stable id of this worker (kept in its work directory). */
  workerId: string;
  queue: TaskQueue;
  tasks: TaskStore;
  logs: StepLogStore;
  executors: StepExecutorLookup;
  /** `task.maxActiveTasks`: the most tasks held at once. */
  capacity: number;
  /** This worker's configuration hash; messages carrying another are not executed. */
  configHash: string;
  /** How long a claim is valid unless renewed. */
  leaseMs: number;
  /** Recovery files (`<workDir>/<taskId>.task`) and scratch space of steps. */
  workDir: string;
  /**
   * Takeover (beyond the source model): adopt active tasks whose owner has not renewed its lease
   * for `afterMs`, with the interrupted step FAILED as in a restart recovery. Off by default.
   */
  takeover?: { enabled: boolean; afterMs: number };
  /**
   * How often the states of running tasks are read back, so that a stop or abort requested
   * through any master reaches this worker even when no command channel delivered it.
   */
  watchIntervalMs?: number;
  /** How often running tasks are checkpointed to their recovery files between step transitions. */
  checkpointIntervalMs?: number;
  /** How long a database write of a running task is retried while the database is unreachable. */
  writeRetryMs?: number;
  logger: Logger;
  /**
   * Fault injection for tests: wait this long between receiving a message and claiming its task,
   * so that a test can kill a worker that holds delivered-but-unclaimed messages. 0 in production.
   */
  claimDelayMs?: number;
  /** Called after every state change, e.g. to announce DRAINING to the masters at once. */
  onStateChange?: (state: WorkerRuntimeState, reason?: string) => void;
  /** Called once a drain (configuration mismatch, request) has finished every running task. */
  onDrained?: (reason: string) => void;
}

export type WorkerRuntimeState = 'NEW' | 'RUNNING' | 'DRAINING' | 'CLOSED';

interface RunningTask {
  task: TaskRecord;
  execution: PlanExecution;
  done: Promise<void>;
  /** Another worker adopted the task: this one must not write anything of it any more. */
  lost: boolean;
}

/** A task this worker holds, as it reports it to masters. */
export interface HeldTask {
  id: string;
  type: TaskRecord['type'];
  state: TaskRecord['state'];
}

/** What a worker did to get back on its feet, for logs and tests. */
export interface RecoveryReport {
  recovered: string[];
  quarantined: string[];
  ghosts: string[];
}

/** How long `close()` waits for aborted steps to be recorded before it lets go. */
const CLOSE_GRACE_MS = 5000;
/** How long a worker waits before handing back a message it could not claim (database down). */
const CLAIM_RETRY_DELAY_MS = 1000;

/**
 * The task execution engine of a worker, in-process or external: consumes task messages up to
 * its capacity, claims each task in the database before accepting its message, executes the plan,
 * and records every step and state change in the database and in a recovery file. Ownership after
 * the claim lives in the database (a lease this runtime renews), never in an unsettled delivery.
 * After a crash the next start recovers from the recovery files (spec §5).
 */
export class WorkerRuntime {
  private stateValue: WorkerRuntimeState = 'NEW';
  private consumer: TaskConsumer | undefined;
  private readonly running = new Map<string, RunningTask>();
  /** Tasks that finished executing here and are not archived or cancelled yet (their files remain). */
  private readonly held = new Map<string, TaskRecord>();
  /** Held tasks the monitor no longer knows (removed while UNKNOWN). */
  private readonly ghosts = new Set<string>();
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly files: RecoveryFiles;
  private readonly logger: Logger;
  private takeovers = 0;

  constructor(private readonly options: WorkerRuntimeOptions) {
    this.logger = options.logger.child({ workerId: options.workerId });
    this.files = new RecoveryFiles(options.workDir, options.workerId);
  }

  get state(): WorkerRuntimeState {
    return this.stateValue;
  }

  get workerId(): string {
    return this.options.workerId;
  }

  /** Ids of the tasks this worker is executing now. */
  get runningTaskIds(): string[] {
    return [...this.running.keys()];
  }

  /** Every task this worker holds: executing, and finished but not archived yet. */
  get heldTasks(): HeldTask[] {
    const all = [...this.held.values(), ...[...this.running.values()].map((r) => r.task)];
    return all.filter((t) => !this.ghosts.has(t.id)).map((t) => ({ id: t.id, type: t.type, state: t.state }));
  }

  /** Recovers what a previous run left (recovery files, active tasks), then starts consuming. */
  async start(): Promise<RecoveryReport> {
    this.setState('NEW', 'RUNNING');
    const report = await this.recover();
    this.every(Math.max(200, Math.min(5000, Math.floor(this.options.leaseMs / 3))), () => this.renewLeases());
    this.every(this.options.watchIntervalMs ?? 1000, () => this.watchRequests());
    this.every(this.options.checkpointIntervalMs ?? 2000, () => this.checkpoint());
    this.every(5000, () => this.housekeeping());
    const takeover = this.options.takeover;
    if (takeover?.enabled) this.every(Math.max(500, Math.floor(takeover.afterMs / 4)), () => this.adoptOrphans(takeover.afterMs));
    this.consumer = await this.options.queue.consume({ capacity: this.options.capacity }, (d) => this.handle(d));
    return report;
  }

  /** Finish the running step(s) of a task this worker executes, then halt (the master set STOPPING). */
  stop(taskId: string): boolean {
    const running = this.running.get(taskId);
    running?.execution.requestStop();
    return running !== undefined;
  }

  /** Kill the running step(s) of a task now (the master set ABORTING). */
  abort(taskId: string): boolean {
    const running = this.running.get(taskId);
    running?.execution.requestAbort();
    return running !== undefined;
  }

  /** Takes no new tasks; resolves when the running ones have finished. */
  async drain(reason: string): Promise<void> {
    if (this.stateValue !== 'RUNNING') return;
    this.setState('RUNNING', 'DRAINING', reason);
    await this.consumer?.pause();
    await Promise.all([...this.running.values()].map((r) => r.done));
    this.logger.info('worker drained: no task left running');
    this.options.onDrained?.(reason);
  }

  /**
   * Registers the ghost tasks again: tasks this worker holds that were removed from the monitor
   * while it was gone. Answers their ids.
   */
  async restoreGhostTasks(): Promise<string[]> {
    const restored: string[] = [];
    for (const id of [...this.ghosts]) {
      const task = this.running.get(id)?.task ?? this.held.get(id);
      if (!task) continue;
      try {
        await this.options.tasks.insert({ ...task, workerId: this.workerId });
        restored.push(id);
      } catch (error) {
        // Already back (another restore, or a race with the monitor): it is not a ghost any more.
        this.logger.debug('ghost task could not be inserted again', { taskId: id, error: String(error) });
        if (!(await this.options.tasks.get(id))) continue;
      }
      this.ghosts.delete(id);
      taskLogger(this.logger, id).info('ghost task registered again');
    }
    return restored;
  }

  /** Counts for logs and tests. */
  get stats(): { running: number; held: number; ghosts: number; takeovers: number } {
    return { running: this.running.size, held: this.held.size, ghosts: this.ghosts.size, takeovers: this.takeovers };
  }

  /**
   * Stops consuming, then kills the steps still running (they become FAILED, so the tasks wait
   * for the user in FAILED) and waits a little for that to be recorded; whatever is not recorded
   * by then is recovered at the next start. Idempotent; every clean-up step runs even when one fails.
   */
  async close(): Promise<void> {
    if (this.stateValue === 'CLOSED') return;
    this.logger.info(`worker ${this.stateValue} -> CLOSED`, { running: this.running.size });
    this.stateValue = 'CLOSED';
    await this.consumer?.close().catch((error: unknown) => this.logger.warn('closing consumer failed', { error: String(error) }));
    const running = [...this.running.values()];
    for (const { execution } of running) execution.requestAbort('the worker shut down while this step was executing');
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.all(running.map((r) => r.done)),
      new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS))),
    ]);
    clearTimeout(timer);
    for (const t of this.timers) clearInterval(t);
  }

  private every(ms: number, work: () => Promise<void>): void {
    let busy = false;
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void work().finally(() => (busy = false));
    }, ms);
    timer.unref();
    this.timers.push(timer);
  }

  private setState(from: WorkerRuntimeState, to: WorkerRuntimeState, reason?: string): void {
    if (this.stateValue !== from) throw new Error(`worker cannot go ${from} -> ${to}: it is ${this.stateValue}`);
    this.stateValue = to;
    this.logger.info(`worker ${from} -> ${to}${reason ? `: ${reason}` : ''}`);
    this.options.onStateChange?.(to, reason);
  }

  // ---- consuming and claiming

  private async handle(delivery: Delivery): Promise<void> {
    const { message } = delivery;
    if (message.version !== TASK_MESSAGE_VERSION) {
      this.logger.error('dropping task message of unknown version', { taskId: message.taskId, version: message.version });
      await delivery.accept();
      return;
    }
    if (message.configHash !== this.options.configHash) {
      await delivery.handBack();
      const reason =
        `configuration mismatch: task ${message.taskId} from master ${message.publishedBy} carries config hash ` +
        `${message.configHash.slice(0, 12)}, this worker has ${this.options.configHash.slice(0, 12)}; ` +
        'synchronize conf/, plugins/ and ext/ with the masters and restart this worker';
      void this.drain(reason);
      return;
    }
    if (this.stateValue !== 'RUNNING') {
      await delivery.handBack();
      return;
    }
    if (this.options.claimDelayMs) await new Promise((resolve) => setTimeout(resolve, this.options.claimDelayMs));
    let task: TaskRecord | null;
    try {
      task = await this.options.tasks.claim(message.taskId, this.workerId, new Date(Date.now() + this.options.leaseMs));
    } catch (error) {
      // The database is unreachable: give the message back (after a pause, not to spin) for later.
      this.logger.warn('could not claim task; handing its message back', { taskId: message.taskId, error: String(error) });
      await new Promise((resolve) => setTimeout(resolve, CLAIM_RETRY_DELAY_MS));
      await delivery.handBack();
      return;
    }
    // Accept either way: a lost claim means another worker has it, or it was cancelled, or this
    // is a duplicate message; the database is the truth.
    await delivery.accept();
    if (!task) {
      this.logger.debug('task message without a claimable task, dropped', { taskId: message.taskId });
      return;
    }
    this.held.delete(task.id);
    await this.execute(task);
  }

  // ---- executing

  private async execute(task: TaskRecord): Promise<void> {
    const log = taskLogger(this.logger, task.id);
    const stepLog = new StepLogWriter(this.options.logs, task.id, this.logger);
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    const execution = new PlanExecution({
      taskId: task.id,
      plan: task.plan,
      executors: this.options.executors,
      workDir: this.options.workDir,
      hooks: {
        stepChanged: async (step: PlanStep) => {
          taskLogger(this.logger, task.id, step.path).info(`step ${step.state}: ${step.description}`);
          const ended = step.state === 'DONE' || step.state === 'FAILED';
          if (ended) await stepLog.flush();
          await this.savePlan(running);
          // At a step boundary, a stop or abort requested through any master takes effect before the next step.
          if (ended) await this.applyRequests(running);
        },
        firstFailure: async (step: PlanStep) => {
          // FAILING shows that parallel siblings are finishing; an ABORTING task stays ABORTING.
          const current = await this.options.tasks.get(task.id).catch(() => null);
          if (!current || !allows(current.state, 'stepFailed') || running.lost) return;
          const failing = await advanceTask(this.options.tasks, task.id, 'stepFailed', undefined, this.workerId).catch(
            (error: unknown) => {
              log.debug('task moved on before it could show FAILING', { step: step.path, error: String(error) });
              return null;
            },
          );
          if (failing) task.state = failing.state;
        },
        log: (step: PlanStep, text: string) => {
          stepLog.write(step.path, text);
          taskLogger(this.logger, task.id, step.path).debug(text.trimEnd());
        },
      },
    });
    const running: RunningTask = { task, execution, done, lost: false };
    this.running.set(task.id, running);
    log.info(`executing task: ${task.description}`, { attempt: task.attempt });
    try {
      await this.files.write(task);
      // A stop or abort requested between the claim and now.
      await this.applyRequests(running);
      const outcome = await execution.run();
      await stepLog.flush();
      await this.finish(running, outcome);
    } catch (error) {
      log.error('task execution broke down; the task is left for recovery', { error: String(error) });
    } finally {
      this.running.delete(task.id);
      if (!running.lost) this.held.set(task.id, task);
      finished();
    }
  }

  /** Records how a run ended, retrying while the database is unreachable. */
  private async finish(running: RunningTask, outcome: ExecutionOutcome): Promise<void> {
    const { task } = running;
    const log = taskLogger(this.logger, task.id);
    if (running.lost) {
      log.warn(`run ended (${outcome}) after another worker adopted the task; nothing recorded`);
      return;
    }
    const failed = flattenSteps(task.plan).find((s) => s.state === 'FAILED');
    const final = await this.retryWrite(`recording the end of task ${task.id}`, () =>
      advanceTask(
        this.options.tasks,
        task.id,
        (current) => finishingAction(current, outcome),
        () => ({
          plan: task.plan,
          failure: failed ? `step ${failed.path} failed: ${failed.failure ?? 'unknown reason'}` : null,
          completedAt: new Date().toISOString(),
        }),
        this.workerId,
      ),
    );
    if (final) {
      Object.assign(task, final);
      await this.files.write(task);
    } else if (!(await this.options.tasks.get(task.id))) {
      // The monitor cannot record how the run ended; the ghost itself must, or restoring it would
      // show an EXECUTING task that nothing executes any more.
      Object.assign(task, {
        state: nextState(task.state, finishingAction(task, outcome)) ?? task.state,
        failure: failed ? `step ${failed.path} failed: ${failed.failure ?? 'unknown reason'}` : null,
        completedAt: new Date().toISOString(),
      });
      this.ghosts.add(task.id);
      await this.files.write(task);
      log.warn(`the task was removed from the monitor while it ran here: it is a ghost task on this worker now (${task.state})`);
    } else {
      running.lost = true;
      await this.files.remove(task.id);
    }
    log.info(`task ${final?.state ?? 'not recorded'} (run ${outcome})`);
  }

  /** Checkpoints a running task: recovery file first (always possible), then the database. */
  private async savePlan(running: RunningTask): Promise<void> {
    if (running.lost) return;
    const { task } = running;
    await this.files.write(task);
    const owned = await this.retryWrite(`saving the plan of task ${task.id}`, () =>
      this.options.tasks.savePlan(task.id, this.workerId, task.plan),
    );
    if (!owned) await this.noLongerOwned(running);
  }

  /** The database says the task is not ours: adopted by another worker, or removed (a ghost). */
  private async noLongerOwned(running: RunningTask): Promise<void> {
    const { task } = running;
    const current = await this.options.tasks.get(task.id).catch(() => undefined);
    if (current === null) {
      this.ghosts.add(task.id);
      return;
    }
    if (current && current.workerId !== this.workerId && !running.lost) {
      running.lost = true;
      taskLogger(this.logger, task.id).warn(`worker ${current.workerId} adopted this task: stopping it here without recording anything`);
      running.execution.requestAbort('another worker adopted this task');
      await this.files.remove(task.id);
    }
  }

  private retryWrite<T>(what: string, write: () => Promise<T>): Promise<T> {
    return retryUntil(what, write, {
      timeoutMs: this.options.writeRetryMs ?? 10 * 60_000,
      logger: this.logger,
      retryable: isRetryable,
    });
  }

  // ---- periodic work

  /** Applies stop and abort requests found in the database to the running executions. */
  private async watchRequests(): Promise<void> {
    for (const running of this.running.values()) await this.applyRequests(running);
  }

  /** Reads the task's state and applies a stop or abort the master recorded there. */
  private async applyRequests(running: RunningTask): Promise<void> {
    try {
      const state = (await this.options.tasks.get(running.task.id))?.state;
      if (state === 'STOPPING') running.execution.requestStop();
      if (state === 'ABORTING') running.execution.requestAbort();
    } catch (error) {
      this.logger.debug('could not read task state; trying again at the next tick', { taskId: running.task.id, error: String(error) });
    }
  }

  private async checkpoint(): Promise<void> {
    for (const running of this.running.values()) {
      if (running.lost) continue;
      await this.files.write(running.task).catch((error: unknown) =>
        this.logger.warn('could not write recovery file', { taskId: running.task.id, error: String(error) }),
      );
    }
  }

  private async renewLeases(): Promise<void> {
    const ids = this.runningTaskIds;
    if (ids.length === 0) return;
    try {
      const owned = new Set(await this.options.tasks.renewLeases(this.workerId, ids, new Date(Date.now() + this.options.leaseMs)));
      for (const id of ids) {
        const running = this.running.get(id);
        if (running && !owned.has(id)) await this.noLongerOwned(running);
      }
    } catch (error) {
      this.logger.warn('could not renew task leases; retrying at the next tick', { error: String(error) });
    }
  }

  /** Forgets held tasks that were archived, cancelled or taken elsewhere; spots ghosts. */
  private async housekeeping(): Promise<void> {
    for (const [id, task] of this.held) {
      try {
        const current = await this.options.tasks.get(id);
        if (current === null) {
          if (!this.ghosts.has(id)) taskLogger(this.logger, id).warn('held task was removed from the monitor: it is a ghost task here');
          this.ghosts.add(id);
          continue;
        }
        this.ghosts.delete(id);
        if (current.workerId !== this.workerId || FINAL_STATES.includes(current.state)) {
          this.held.delete(id);
          await this.files.remove(id);
          continue;
        }
        if (isActive(current.state) && !this.running.has(id)) {
          // A run that broke down (e.g. the database stayed away longer than writes are retried)
          // left the task active with nothing executing it: end it as a restart would.
          await this.recoverActive(current, current.plan);
          continue;
        }
        if (current.state !== task.state) this.held.set(id, current);
      } catch (error) {
        this.logger.debug('housekeeping could not read a held task', { taskId: id, error: String(error) });
      }
    }
  }

  /** Takeover: adopts active tasks whose owner stopped renewing its lease long enough ago. */
  private async adoptOrphans(afterMs: number): Promise<void> {
    if (this.stateValue !== 'RUNNING') return;
    try {
      for (const orphan of await this.options.tasks.leaseExpiredBefore(new Date(Date.now() - afterMs))) {
        if (!orphan.workerId || !orphan.leaseUntil || orphan.workerId === this.workerId) continue;
        const adopted = await this.options.tasks.adopt(
          orphan.id,
          { workerId: orphan.workerId, leaseUntil: orphan.leaseUntil },
          this.workerId,
          new Date(Date.now() + this.options.leaseMs),
        );
        if (!adopted) continue;
        this.takeovers++;
        taskLogger(this.logger, orphan.id).warn(
          `took over task from worker ${orphan.workerId}, whose lease expired at ${orphan.leaseUntil}`,
        );
        await this.recoverActive(adopted, adopted.plan);
      }
    } catch (error) {
      this.logger.warn('takeover pass failed; trying again at the next one', { error: String(error) });
    }
  }

  // ---- recovery

  /**
   * Restart recovery (spec §5): recovery files first (the worker's own record, possibly newer
   * than the database), then active tasks the database says this worker owns. A step that was
   * executing becomes FAILED and the task waits for the user in FAILED.
   */
  private async recover(): Promise<RecoveryReport> {
    const report: RecoveryReport = { recovered: [], quarantined: [], ghosts: [] };
    const { files, quarantined } = await this.files.readAll();
    for (const bad of quarantined) {
      report.quarantined.push(bad.taskId);
      taskLogger(this.logger, bad.taskId).error(`unreadable recovery file moved to ${bad.movedTo}: ${bad.reason}`);
      const task = await this.options.tasks.get(bad.taskId);
      if (task && task.workerId === this.workerId && isActive(task.state)) {
        await this.recoverActive(task, task.plan, `recovery file unreadable (${bad.reason}); moved to ${bad.movedTo}`);
        report.recovered.push(task.id);
      }
    }
    for (const file of files) {
      const task = await this.options.tasks.get(file.task.id);
      if (task === null) {
        // Interrupted like any other task, so that restoring the ghost shows it FAILED, not EXECUTING.
        const ghost = isActive(file.task.state) ? interruptedLocally(file.task) : file.task;
        if (ghost !== file.task) await this.files.write(ghost);
        this.held.set(ghost.id, ghost);
        this.ghosts.add(ghost.id);
        report.ghosts.push(ghost.id);
        taskLogger(this.logger, ghost.id).warn(`recovered a task the monitor no longer knows: a ghost task (${ghost.state})`);
      } else if (task.workerId !== this.workerId) {
        await this.files.remove(task.id);
      } else if (isActive(task.state)) {
        await this.recoverActive(task, file.task.plan);
        report.recovered.push(task.id);
      } else if (FINAL_STATES.includes(task.state)) {
        await this.files.remove(task.id);
      } else {
        this.held.set(task.id, task);
      }
    }
    for (const task of await this.options.tasks.activeOwnedBy(this.workerId)) {
      if (report.recovered.includes(task.id)) continue;
      await this.recoverActive(task, task.plan);
      report.recovered.push(task.id);
    }
    if (report.recovered.length + report.quarantined.length + report.ghosts.length > 0) {
      this.logger.warn('recovery after restart', { ...report });
    }
    return report;
  }

  /** Ends an active task this worker holds but does not run: interrupted steps FAILED. */
  private async recoverActive(task: TaskRecord, plan: TaskRecord['plan'], reason?: string): Promise<void> {
    const recoveredPlan = interruptPlan(plan);
    const action = interruptionAction(task, recoveredPlan);
    const failed = flattenSteps(recoveredPlan).find((s) => s.state === 'FAILED');
    const recovered = await advanceTask(
      this.options.tasks,
      task.id,
      (current) => (current.state === 'ABORTING' ? 'aborted' : action),
      () => ({
        plan: recoveredPlan,
        failure:
          reason ??
          (failed
            ? `step ${failed.path} failed: ${failed.failure}`
            : action === 'interrupted'
              ? INTERRUPTED_BETWEEN_STEPS
              : null),
        completedAt: new Date().toISOString(),
      }),
      this.workerId,
    );
    if (!recovered) return;
    this.held.set(recovered.id, recovered);
    await this.files.write(recovered);
    taskLogger(this.logger, task.id).warn(`recovered interrupted task as ${recovered.state}`);
  }
}

/**
 * An active task that no database row backs any more (a ghost), ended the way
 * {@link WorkerRuntime} ends an interrupted task in the database: executing steps FAILED.
 */
function interruptedLocally(task: TaskRecord): TaskRecord {
  const plan = interruptPlan(task.plan);
  const failed = flattenSteps(plan).find((s) => s.state === 'FAILED');
  return {
    ...task,
    plan,
    state: nextState(task.state, interruptionAction(task, plan)) ?? task.state,
    failure: failed ? `step ${failed.path} failed: ${failed.failure}` : null,
    completedAt: new Date().toISOString(),
  };
}

/** The event that ends a run, given what the master asked meanwhile (the task's current state). */
function finishingAction(current: TaskRecord, outcome: ExecutionOutcome): TaskAction {
  if (current.state === 'ABORTING') return 'aborted';
  if (outcome === 'aborted') return 'failed';
  return outcome;
}
