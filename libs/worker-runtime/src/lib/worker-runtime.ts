import { Logger, taskLogger } from '@shipdeck/logging';
import { StepLogStore, TaskStore } from '@shipdeck/persistence';
import { Delivery, TASK_MESSAGE_VERSION, TaskConsumer, TaskQueue } from '@shipdeck/queue';
import {
  ExecutionOutcome,
  PlanExecution,
  PlanStep,
  StepExecutorLookup,
  TaskAction,
  TaskRecord,
  flattenSteps,
} from '@shipdeck/tasks';
import { advanceTask, allows } from '@shipdeck/persistence';
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
  workDir: string;
  /**
   * How often the states of running tasks are read back, so that a stop or abort requested
   * through any master reaches this worker even when no command channel delivered it.
   */
  watchIntervalMs?: number;
  logger: Logger;
  /** Called once a drain (configuration mismatch, request) has finished every running task. */
  onDrained?: (reason: string) => void;
}

export type WorkerRuntimeState = 'NEW' | 'RUNNING' | 'DRAINING' | 'CLOSED';

interface RunningTask {
  execution: PlanExecution;
  done: Promise<void>;
}

/**
 * The task execution engine of a worker, in-process or external: consumes task messages up to
 * its capacity, claims each task in the database before accepting its message, executes the plan,
 * and records every step and state change. Ownership after the claim lives in the database (a
 * lease this runtime renews), never in an unsettled broker delivery.
 */
export class WorkerRuntime {
  private stateValue: WorkerRuntimeState = 'NEW';
  private consumer: TaskConsumer | undefined;
  private readonly running = new Map<string, RunningTask>();
  private leaseTimer: NodeJS.Timeout | undefined;
  private watchTimer: NodeJS.Timeout | undefined;
  private readonly logger: Logger;

  constructor(private readonly options: WorkerRuntimeOptions) {
    this.logger = options.logger.child({ workerId: options.workerId });
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

  /** Recovers tasks a previous run of this worker left active, then starts consuming. */
  async start(): Promise<void> {
    this.setState('NEW', 'RUNNING');
    await this.recoverInterrupted();
    const renewEvery = Math.max(200, Math.floor(this.options.leaseMs / 3));
    this.leaseTimer = setInterval(() => void this.renewLeases(), renewEvery);
    this.leaseTimer.unref();
    this.watchTimer = setInterval(() => void this.watchRequests(), this.options.watchIntervalMs ?? 1000);
    this.watchTimer.unref();
    this.consumer = await this.options.queue.consume({ capacity: this.options.capacity }, (d) => this.handle(d));
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
   * Stops consuming and leaves running tasks to the recovery of the next start (they are marked
   * interrupted then). Idempotent; every clean-up step runs even when one fails.
   */
  async close(): Promise<void> {
    if (this.stateValue === 'CLOSED') return;
    this.logger.info(`worker ${this.stateValue} -> CLOSED`, { running: this.running.size });
    this.stateValue = 'CLOSED';
    if (this.leaseTimer) clearInterval(this.leaseTimer);
    if (this.watchTimer) clearInterval(this.watchTimer);
    await this.consumer?.close().catch((error: unknown) => this.logger.warn('closing consumer failed', { error: String(error) }));
  }

  private setState(from: WorkerRuntimeState, to: WorkerRuntimeState, reason?: string): void {
    if (this.stateValue !== from) throw new Error(`worker cannot go ${from} -> ${to}: it is ${this.stateValue}`);
    this.stateValue = to;
    this.logger.info(`worker ${from} -> ${to}${reason ? `: ${reason}` : ''}`);
  }

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
    const leaseUntil = new Date(Date.now() + this.options.leaseMs);
    const task = await this.options.tasks.claim(message.taskId, this.options.workerId, leaseUntil);
    // Accept either way: a lost claim means another worker has it, or it was cancelled, or this
    // is a duplicate message; the database is the truth.
    await delivery.accept();
    if (!task) {
      this.logger.debug('task message without a claimable task, dropped', { taskId: message.taskId });
      return;
    }
    await this.execute(task);
  }

  private async execute(task: TaskRecord): Promise<void> {
    const log = taskLogger(this.logger, task.id);
    const { tasks } = this.options;
    const stepLog = new StepLogWriter(this.options.logs, task.id, this.logger);
    const plan = task.plan;
    const persistPlan = async () => {
      const owned = await tasks.savePlan(task.id, this.options.workerId, plan);
      if (!owned) log.warn('task is no longer owned by this worker; its plan was not saved');
    };
    const execution = new PlanExecution({
      taskId: task.id,
      plan,
      executors: this.options.executors,
      workDir: this.options.workDir,
      hooks: {
        stepChanged: async (step: PlanStep) => {
          taskLogger(this.logger, task.id, step.path).info(`step ${step.state}: ${step.description}`);
          if (step.state === 'DONE' || step.state === 'FAILED') await stepLog.flush();
          await persistPlan();
        },
        firstFailure: async (step: PlanStep) => {
          // FAILING shows that parallel siblings are finishing; an ABORTING task stays ABORTING.
          const current = await tasks.get(task.id);
          if (!current || !allows(current.state, 'stepFailed')) return;
          await advanceTask(tasks, task.id, 'stepFailed').catch((error: unknown) =>
            log.debug('task moved on before it could show FAILING', { step: step.path, error: String(error) }),
          );
        },
        log: (step: PlanStep, text: string) => {
          stepLog.write(step.path, text);
          taskLogger(this.logger, task.id, step.path).debug(text.trimEnd());
        },
      },
    });
    let finished!: () => void;
    const done = new Promise<void>((resolve) => (finished = resolve));
    this.running.set(task.id, { execution, done });
    log.info(`executing task: ${task.description}`, { attempt: task.attempt });
    try {
      // A stop or abort requested between the claim and now.
      const current = await tasks.get(task.id);
      if (current?.state === 'STOPPING') execution.requestStop();
      if (current?.state === 'ABORTING') execution.requestAbort();
      const outcome = await execution.run();
      await stepLog.flush();
      const failed = flattenSteps(plan).find((s) => s.state === 'FAILED');
      const final = await advanceTask(tasks, task.id, (c) => finishingAction(c, outcome), () => ({
        plan,
        failure: failed ? `step ${failed.path} failed: ${failed.failure ?? 'unknown reason'}` : null,
        completedAt: new Date().toISOString(),
      }));
      log.info(`task ${final?.state ?? 'gone'} (run ${outcome})`);
    } catch (error) {
      log.error('task execution broke down; the task is left for recovery', { error: String(error) });
    } finally {
      this.running.delete(task.id);
      finished();
    }
  }

  /** A previous run of this worker died while these tasks were active: their running steps may have run partly. */
  private async recoverInterrupted(): Promise<void> {
    const orphans = await this.options.tasks.activeOwnedBy(this.options.workerId);
    for (const task of orphans) {
      const plan = task.plan;
      for (const step of flattenSteps(plan)) {
        if (step.state === 'EXECUTING') {
          step.state = 'FAILED';
          step.failure = 'the worker stopped while this step was executing; it may have run partly';
        }
      }
      const recovered = await advanceTask(this.options.tasks, task.id, 'interrupted', () => ({
        plan,
        failure: 'interrupted by a worker restart',
      }));
      taskLogger(this.logger, task.id).warn(`recovered interrupted task as ${recovered?.state}`);
    }
  }

  /** Applies stop and abort requests found in the database to the running executions. */
  private async watchRequests(): Promise<void> {
    for (const [id, running] of this.running) {
      try {
        const state = (await this.options.tasks.get(id))?.state;
        if (state === 'STOPPING') running.execution.requestStop();
        if (state === 'ABORTING') running.execution.requestAbort();
      } catch (error) {
        this.logger.debug('could not read task state; trying again at the next tick', { taskId: id, error: String(error) });
      }
    }
  }

  private async renewLeases(): Promise<void> {
    const ids = this.runningTaskIds;
    if (ids.length === 0) return;
    try {
      await this.options.tasks.renewLeases(this.options.workerId, ids, new Date(Date.now() + this.options.leaseMs));
    } catch (error) {
      this.logger.warn('could not renew task leases; retrying at the next tick', { error: String(error) });
    }
  }
}

/** The event that ends a run, given what the master asked meanwhile (the task's current state). */
function finishingAction(current: TaskRecord, outcome: ExecutionOutcome): TaskAction {
  if (current.state === 'ABORTING') return 'aborted';
  if (outcome === 'aborted') return 'failed';
  return outcome;
}
