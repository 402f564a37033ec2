import { flattenSteps } from './plan-ops';
import { Plan, PlanBlock, PlanStep } from './plan';
import { StepExecutorLookup } from './step-executor';

/** How one run of a plan ended; each maps to the task event of the same name. */
export type ExecutionOutcome = 'completed' | 'halted' | 'failed' | 'aborted';

/** Callbacks through which the engine reports progress; persistence lives behind them, not in the engine. */
export interface ExecutionHooks {
  /**
   * A step changed state (the plan object is already updated). Awaited before the engine goes on.
   * `endsRun`: this is a step's end (DONE or FAILED) after which no step starts in this run (no
   * step is executing any more, and none is left to run or the run halts, fails or aborts): the
   * run's outcome follows, and whoever records it may record this change with it.
   */
  stepChanged(step: PlanStep, endsRun: boolean): Promise<void>;
  /** The first step failure of this run: the task goes FAILING while parallel siblings finish. */
  firstFailure(step: PlanStep): Promise<void>;
  /** Text for a step's log. */
  log(step: PlanStep, text: string): void;
}

export interface ExecutionOptions {
  taskId: string;
  plan: Plan;
  executors: StepExecutorLookup;
  hooks: ExecutionHooks;
  workDir: string;
  now?: () => Date;
}

/**
 * Runs a plan once: phases and blocks in order, the steps of a parallel block concurrently.
 * Steps already DONE or SKIPPED are passed over, so a run after a failure continues from the
 * failed step. A PENDING step with `pauseBefore` halts the run (the step becomes PAUSED); a
 * PAUSED step is run when execution resumes.
 */
export class PlanExecution {
  private stopRequested = false;
  private abortReason: string | undefined;
  private readonly abortController = new AbortController();
  private failed = false;
  /** Steps of this run not started yet (the steps neither DONE nor SKIPPED when it began). */
  private notStarted = 0;
  /** Steps executing now. */
  private executing = 0;
  private readonly now: () => Date;

  constructor(private readonly options: ExecutionOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** Finish the running step(s), then halt. */
  requestStop(): void {
    this.stopRequested = true;
  }

  /** Kill the running step(s) now; they become FAILED with `reason`. */
  requestAbort(reason = 'aborted by user'): void {
    this.abortReason ??= reason;
    this.abortController.abort();
  }

  get aborting(): boolean {
    return this.abortController.signal.aborted;
  }

  async run(): Promise<ExecutionOutcome> {
    this.notStarted = flattenSteps(this.options.plan).filter(isRunnable).length;
    for (const phase of this.options.plan.phases) {
      for (const block of phase.blocks) {
        const outcome = await this.runBlock(block);
        if (outcome) return outcome;
      }
    }
    const steps = flattenSteps(this.options.plan);
    return steps.every((s) => s.state === 'DONE' || s.state === 'SKIPPED') ? 'completed' : 'failed';
  }

  /** Runs a block; answers an outcome when execution must end here. */
  private async runBlock(block: PlanBlock): Promise<ExecutionOutcome | undefined> {
    const runnable = block.steps.filter(isRunnable);
    if (runnable.length === 0) return undefined;
    if (block.parallel) {
      const halt = await this.haltBefore(runnable);
      if (halt) return halt;
      await Promise.all(runnable.map((step) => this.runStep(step)));
      return this.afterSteps();
    }
    for (const step of runnable) {
      const halt = await this.haltBefore([step]);
      if (halt) return halt;
      await this.runStep(step);
      const outcome = this.afterSteps();
      if (outcome) return outcome;
    }
    return undefined;
  }

  /** Checks, before starting steps, for an abort, a stop request or a pause. */
  private async haltBefore(steps: PlanStep[]): Promise<ExecutionOutcome | undefined> {
    if (this.aborting) return 'aborted';
    if (this.stopRequested) return 'halted';
    const toPause = steps.filter((s) => s.state === 'PENDING' && s.pauseBefore);
    if (toPause.length === 0) return undefined;
    for (const step of toPause) await this.setState(step, 'PAUSED');
    return 'halted';
  }

  private afterSteps(): ExecutionOutcome | undefined {
    if (this.aborting) return 'aborted';
    if (this.failed) return 'failed';
    return undefined;
  }

  private async runStep(step: PlanStep): Promise<void> {
    const { hooks, taskId, workDir } = this.options;
    this.notStarted--;
    this.executing++;
    step.startedAt = this.now().toISOString();
    step.completedAt = undefined;
    step.failure = undefined;
    await this.setState(step, 'EXECUTING');
    try {
      // An abort that came with the EXECUTING checkpoint (or while it was written): the step's
      // effects must not start, whether or not its executor looks at an already aborted signal.
      if (this.aborting) throw new Error('aborted');
      const executor = this.options.executors(step.ciType);
      await executor.execute({
        taskId,
        step,
        workDir,
        signal: this.abortController.signal,
        log: (text) => hooks.log(step, text),
      });
      if (this.aborting) throw new Error('aborted');
      step.completedAt = this.now().toISOString();
      await this.endStep(step, 'DONE');
    } catch (error) {
      step.failure = this.aborting ? (this.abortReason ?? 'aborted') : messageOf(error);
      step.completedAt = this.now().toISOString();
      hooks.log(step, `\n[shipdeck] step failed: ${step.failure}\n`);
      // Failed from now on, so that a sibling ending meanwhile knows the run ends with the block.
      const first = !this.failed && !this.aborting;
      if (first) this.failed = true;
      await this.endStep(step, 'FAILED');
      if (first) await hooks.firstFailure(step);
    }
  }

  private async endStep(step: PlanStep, state: 'DONE' | 'FAILED'): Promise<void> {
    this.executing--;
    // A stop requested by now halts the run before its next step, as a failure or an abort ends it.
    const last = this.notStarted === 0 || state === 'FAILED' || this.failed || this.aborting || this.stopRequested;
    await this.setState(step, state, this.executing === 0 && last);
  }

  private async setState(step: PlanStep, state: PlanStep['state'], endsRun = false): Promise<void> {
    step.state = state;
    await this.options.hooks.stepChanged(step, endsRun);
  }
}

function isRunnable(step: PlanStep): boolean {
  return step.state !== 'DONE' && step.state !== 'SKIPPED';
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
