import { PlanStep } from './plan';

/** What a step implementation gets to do its work. */
export interface StepContext {
  readonly taskId: string;
  readonly step: Readonly<PlanStep>;
  /** Appends text to the step's log (shown by `GET /tasks/{id}/steps/{path}/log`). */
  log(text: string): void;
  /** Aborted when the task is aborted: the implementation must stop at once (kill what it started). */
  readonly signal: AbortSignal;
  /** The worker's work directory, for scratch files. */
  readonly workDir: string;
}

/** Executes steps of one CI type; resolves when the step is done, rejects when it failed. */
export interface StepExecutor {
  execute(context: StepContext): Promise<void>;
}

/** Finds the executor for a step's `ciType`; throws when no plugin registered it. */
export type StepExecutorLookup = (ciType: string) => StepExecutor;
