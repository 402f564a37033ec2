import { StepState } from './states';

/** The host a step runs against, as the planner resolved it. */
export interface StepTarget {
  name: string;
  type: string;
  /** Host properties other than name and type (address, user…), for host types that need them. */
  properties?: Record<string, unknown>;
}

/**
 * What a step does. Produced by the planner, executed by the worker's engine through the plugin
 * registry (`ciType` names the step implementation). `properties` have every placeholder resolved.
 */
export interface StepSpec {
  description: string;
  /** 0..100; steps of a block run in ascending order. */
  order: number;
  ciType: string;
  /** CREATE / MODIFY / DESTROY for deployments, or the control name (e.g. `checkConnection`). */
  operation: string;
  /** The deployable this step deploys, when it comes from a package. */
  deployable?: string;
  target: StepTarget;
  properties: Record<string, unknown>;
}

export interface PlanStep extends StepSpec {
  /** `phase-block-step`, 1-based, e.g. `1-2-3`. */
  path: string;
  state: StepState;
  /** Stop before running this step (the task goes STOPPED, the step PAUSED). */
  pauseBefore: boolean;
  startedAt?: string;
  completedAt?: string;
  /** Why the step failed, in one line. */
  failure?: string;
}

export interface PlanBlock {
  path: string;
  description: string;
  parallel: boolean;
  steps: PlanStep[];
}

export interface PlanPhase {
  path: string;
  description: string;
  blocks: PlanBlock[];
}

/** A task's plan: phases → blocks → steps. Block and phase states are derived, never stored. */
export interface Plan {
  phases: PlanPhase[];
}
