import { IllegalTransitionError, NotFoundError, ErrorCode } from '@shipdeck/errors';
import { Plan, PlanBlock, PlanPhase, PlanStep, StepSpec } from './plan';
import { StepState } from './states';

/** A block as the planner describes it, before paths and states are given. */
export interface BlockSpec {
  description: string;
  parallel: boolean;
  steps: StepSpec[];
}

export interface PhaseSpec {
  description: string;
  blocks: BlockSpec[];
}

/** Builds a plan with 1-based paths and every step PENDING; steps of a block are sorted by order. */
export function buildPlan(phases: PhaseSpec[]): Plan {
  return {
    phases: phases.map((phase, p) => ({
      path: `${p + 1}`,
      description: phase.description,
      blocks: phase.blocks.map((block, b) => ({
        path: `${p + 1}-${b + 1}`,
        description: block.description,
        parallel: block.parallel,
        steps: [...block.steps]
          .sort((x, y) => x.order - y.order)
          .map((step, s) => ({ ...step, path: `${p + 1}-${b + 1}-${s + 1}`, state: 'PENDING', pauseBefore: false })),
      })),
    })),
  };
}

/** Every step in execution order. */
export function flattenSteps(plan: Plan): PlanStep[] {
  return plan.phases.flatMap((phase) => phase.blocks.flatMap((block) => block.steps));
}

export function findStep(plan: Plan, path: string): PlanStep {
  const step = flattenSteps(plan).find((s) => s.path === path);
  if (!step) throw new NotFoundError(ErrorCode.STEP_NOT_FOUND, `step ${path} does not exist in this plan`);
  return step;
}

/** The state of a group of steps, for display: the "worst" running state wins. */
export function aggregateState(steps: readonly PlanStep[]): StepState {
  const has = (s: StepState) => steps.some((step) => step.state === s);
  if (has('EXECUTING')) return 'EXECUTING';
  if (has('FAILED')) return 'FAILED';
  if (has('PAUSED')) return 'PAUSED';
  if (steps.length > 0 && steps.every((s) => s.state === 'SKIPPED')) return 'SKIPPED';
  if (steps.every((s) => s.state === 'DONE' || s.state === 'SKIPPED')) return 'DONE';
  if (has('DONE')) return 'EXECUTING';
  return 'PENDING';
}

export function blockState(block: PlanBlock): StepState {
  return aggregateState(block.steps);
}

export function phaseState(phase: PlanPhase): StepState {
  return aggregateState(phase.blocks.flatMap((b) => b.steps));
}

/** Marks a step SKIPPED. Allowed while the task is not executing, for PENDING, FAILED or PAUSED steps. */
export function skipStep(plan: Plan, path: string): void {
  const step = findStep(plan, path);
  if (!['PENDING', 'FAILED', 'PAUSED'].includes(step.state)) throw new IllegalTransitionError('skip', step.state, 'step');
  step.state = 'SKIPPED';
}

/** Puts a SKIPPED step back to PENDING. */
export function unskipStep(plan: Plan, path: string): void {
  const step = findStep(plan, path);
  if (step.state !== 'SKIPPED') throw new IllegalTransitionError('unskip', step.state, 'step');
  step.state = 'PENDING';
}

/** Adds a pause before a step that has not run yet. */
export function pauseBeforeStep(plan: Plan, path: string): void {
  const step = findStep(plan, path);
  if (step.state !== 'PENDING') throw new IllegalTransitionError('pause before', step.state, 'step');
  step.pauseBefore = true;
}

/** Deep copy, so a plan can be changed and persisted without sharing objects with the original. */
export function clonePlan(plan: Plan): Plan {
  return structuredClone(plan);
}
