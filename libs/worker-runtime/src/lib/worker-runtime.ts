import { TaskRecord } from '@shipdeck/tasks';
import { Delivery, TaskConsumer } from '@shipdeck/queue';
import { Cancel } from './clock';
import { HeldTask, HeldTasks } from './held-tasks';
import { RuntimeContext } from './runtime-context';
import { MaintenanceLoops } from './maintenance-loops';
import { RecoveryFiles } from './recovery-files';
import { TaskIntake } from './task-intake';
import { RecoveryReport, TaskRecovery } from './task-recovery';
import { TaskRun } from './task-run';
import { WorkerRuntimeOptions, WorkerRuntimeState, compileWorkerRuntimeOptions } from './worker-runtime-options';

/** The transitions a worker runtime may make; anything else is refused. */
const TRANSITIONS: Record<WorkerRuntimeState, readonly WorkerRuntimeState[]> = {
  NEW: ['RUNNING', 'CLOSED'],
  RUNNING: ['DRAINING', 'CLOSED'],
  DRAINING: ['CLOSED'],
  CLOSED: [],
};

/**
 * The task execution engine of a worker, in-process or external: consumes task messages up to
 * its capacity ({@link TaskIntake}), claims each task in the database before accepting its
 * message, executes the plan ({@link TaskRun}), and records every step and state change in the
 * database and in a recovery file; {@link MaintenanceLoops} keep the leases and watch for
 * requests. After a crash the next start recovers from the recovery files ({@link TaskRecovery}, spec §5).
 */
export class WorkerRuntime {
  private stateValue: WorkerRuntimeState = 'NEW';
  private consumer: TaskConsumer | undefined;
  private readonly context: RuntimeContext;
  private readonly recovery: TaskRecovery;
  private readonly maintenance: MaintenanceLoops;
  private readonly intake: TaskIntake;
  /** The runs executing now, until they have ended and are recorded. */
  private readonly runs = new Set<Promise<void>>();
  /** The one reading of the work directory and the database at start; unset again when it failed. */
  private recovered: Promise<RecoveryReport> | undefined;

  constructor(options: WorkerRuntimeOptions) {
    const compiled = compileWorkerRuntimeOptions(options);
    this.context = {
      options: compiled,
      logger: compiled.logger.child({ workerId: compiled.workerId }),
      files: new RecoveryFiles(compiled.workDir, compiled.workerId),
      held: new HeldTasks(),
    };
    this.recovery = new TaskRecovery(this.context);
    this.maintenance = new MaintenanceLoops(this.context, this.recovery, () => this.stateValue === 'RUNNING');
    this.intake = new TaskIntake(this.context, {
      takingTasks: () => this.stateValue === 'RUNNING',
      execute: (task) => this.execute(task),
    });
  }

  get state(): WorkerRuntimeState {
    return this.stateValue;
  }

  get workerId(): string {
    return this.context.options.workerId;
  }

  /** Ids of the tasks this worker is executing now. */
  get runningTaskIds(): string[] {
    return [...this.context.held.running.keys()];
  }

  /** Every task this worker holds: executing, and finished but not archived yet. Ghosts are left out. */
  get heldTasks(): HeldTask[] {
    return this.context.held.view();
  }

  /** Counts for logs and tests. */
  get stats(): { running: number; held: number; ghosts: number; takeovers: number } {
    const { held } = this.context;
    return { running: held.running.size, held: held.finished.size, ghosts: held.ghosts.size, takeovers: this.maintenance.takeovers };
  }

  /**
   * Reads what a previous run left (recovery files, ghost tasks, active tasks the database says
   * this worker owns) and ends its interrupted tasks, once: later calls answer the same report.
   * A worker calls it before it registers with masters, so that what it tells them, and the
   * ghosts it can restore, include everything it holds.
   */
  recover(): Promise<RecoveryReport> {
    this.recovered ??= this.recovery.recover().catch((error: unknown) => {
      // The database may be away for a moment: the next call reads again.
      this.recovered = undefined;
      throw error;
    });
    return this.recovered;
  }

  /** Recovers what a previous run left ({@link recover}, if not done yet), then starts consuming. */
  async start(): Promise<RecoveryReport> {
    this.setState('RUNNING');
    const report = await this.recover();
    this.context.options.metrics.tasksRecovered(report.recovered.length);
    this.maintenance.start();
    const { queue, capacity, configHash } = this.context.options;
    // Where the broker filters (Artemis), messages of other configurations never reach this worker.
    this.consumer = await queue.consume({ capacity, selectorConfigHash: configHash }, (delivery) => this.intake.handle(this.counted(delivery)));
    return report;
  }

  /** Finish the running step(s) of a task this worker executes, then halt (the master set STOPPING). */
  stop(taskId: string): boolean {
    const run = this.context.held.running.get(taskId);
    run?.execution.requestStop();
    return run !== undefined;
  }

  /** Kill the running step(s) of a task now (the master set ABORTING). */
  abort(taskId: string): boolean {
    const run = this.context.held.running.get(taskId);
    run?.execution.requestAbort();
    return run !== undefined;
  }

  /** Takes no new tasks; resolves when the running ones have finished. */
  async drain(reason: string): Promise<void> {
    if (this.stateValue !== 'RUNNING') return;
    this.setState('DRAINING', reason);
    await this.consumer?.pause();
    await this.runsEnded();
    this.context.logger.info('worker drained: no task left running');
    this.context.options.onDrained(reason);
  }

  /**
   * Registers the ghost tasks again: tasks this worker holds that were removed from the monitor
   * while it was gone. Answers their ids. Waits for the reading of the work directory
   * ({@link recover}), where the ghosts of a previous run are found.
   */
  async restoreGhostTasks(): Promise<string[]> {
    await this.recover();
    return this.recovery.restoreGhostTasks();
  }

  /**
   * Stops consuming, then kills the steps still running (they become FAILED, so the tasks wait
   * for the user in FAILED) and waits a little for that to be recorded; whatever is not recorded
   * by then is recovered at the next start. Idempotent; every clean-up step runs even when one fails.
   */
  async close(): Promise<void> {
    if (this.stateValue === 'CLOSED') return;
    const { logger, held, options } = this.context;
    this.setState('CLOSED', `${held.running.size} task(s) running`);
    await this.consumer?.close().catch((error: unknown) => logger.warn('closing consumer failed', { error: String(error) }));
    for (const run of held.running.values()) run.execution.requestAbort('the worker shut down while this step was executing');
    let cancelGrace: Cancel | undefined;
    await Promise.race([this.runsEnded(), new Promise<void>((resolve) => (cancelGrace = options.clock.after(options.closeGraceMs, resolve)))]);
    cancelGrace?.();
    this.maintenance.stop();
  }

  /** The delivery, counted, with its hand-back counted too (the intake decides when to hand back). */
  private counted(delivery: Delivery): Delivery {
    const { metrics } = this.context.options;
    metrics.taskMessageDelivered();
    return {
      message: delivery.message,
      accept: () => delivery.accept(),
      handBack: () => {
        metrics.taskMessageHandedBack();
        return delivery.handBack();
      },
    };
  }

  private async execute(task: TaskRecord): Promise<void> {
    // Only a task this worker has just claimed comes here: its claim time is the claim's.
    const queued = task.queuedAt ? Date.parse(task.queuedAt) : NaN;
    const claimed = task.claimedAt ? Date.parse(task.claimedAt) : NaN;
    this.context.options.metrics.taskClaimed(Number.isNaN(queued) || Number.isNaN(claimed) ? null : (claimed - queued) / 1000);
    const run = new TaskRun(this.context, task).run();
    this.runs.add(run);
    try {
      await run;
    } finally {
      this.runs.delete(run);
    }
  }

  private async runsEnded(): Promise<void> {
    await Promise.all([...this.runs]);
  }

  private setState(to: WorkerRuntimeState, reason?: string): void {
    const from = this.stateValue;
    if (!TRANSITIONS[from].includes(to)) throw new Error(`worker cannot go ${from} -> ${to}`);
    this.stateValue = to;
    this.context.logger.info(`worker ${from} -> ${to}${reason ? `: ${reason}` : ''}`);
    this.context.options.onStateChange(to, reason);
  }
}
