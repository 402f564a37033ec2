import { aggregateState, blockState, flattenSteps, phaseState } from './plan-ops';
import { StepState, ShownTaskState, TaskType } from './states';
import { TaskRecord } from './task';

export interface StepView {
  path: string;
  description: string;
  state: StepState;
  order: number;
  host: string;
  ciType: string;
  operation: string;
  pauseBefore: boolean;
  startedAt: string | null;
  completedAt: string | null;
  failure: string | null;
}

export interface BlockView {
  path: string;
  description: string;
  state: StepState;
  parallel: boolean;
  steps: StepView[];
}

export interface PhaseView {
  path: string;
  description: string;
  state: StepState;
  blocks: BlockView[];
}

export interface PlanView {
  state: StepState;
  phases: PhaseView[];
}

/** A user's action on a task: who, and when. */
export interface TaskActor {
  user: string;
  at: string;
}

/**
 * Who created a task and who last started, stopped (or aborted), cancelled and archived it, read
 * from the audit trail; null where nobody did (a scheduled task falling due starts by itself).
 */
export interface TaskActors {
  createdBy: TaskActor | null;
  startedBy: TaskActor | null;
  stoppedBy: TaskActor | null;
  cancelledBy: TaskActor | null;
  archivedBy: TaskActor | null;
}

/** A task as the REST API answers it (spec §6). */
export interface TaskView {
  id: string;
  type: TaskType;
  description: string;
  state: ShownTaskState;
  worker: string | null;
  attempt: number;
  application: string | null;
  version: string | null;
  environment: string | null;
  kind: string | null;
  failure: string | null;
  createdAt: string;
  scheduledAt: string | null;
  queuedAt: string | null;
  claimedAt: string | null;
  startedAt: string | null;
  completedAt: string | null;
  plan: PlanView;
  /** Every step in execution order. */
  steps: StepView[];
  /** Only in the answer of `GET /tasks/{id}`: who acted on the task (docs/security.md). */
  actors?: TaskActors;
}

/** Renders a stored task for the API; `shownState` replaces the state while the owner is gone (UNKNOWN). */
export function renderTask(task: TaskRecord, shownState: ShownTaskState = task.state): TaskView {
  const stepView = (s: TaskRecord['plan']['phases'][number]['blocks'][number]['steps'][number]): StepView => ({
    path: s.path,
    description: s.description,
    state: s.state,
    order: s.order,
    host: s.target.name,
    ciType: s.ciType,
    operation: s.operation,
    pauseBefore: s.pauseBefore,
    startedAt: s.startedAt ?? null,
    completedAt: s.completedAt ?? null,
    failure: s.failure ?? null,
  });
  return {
    id: task.id,
    type: task.type,
    description: task.description,
    state: shownState,
    worker: task.workerId,
    attempt: task.attempt,
    application: task.deployment?.application ?? null,
    version: task.deployment?.version ?? null,
    environment: task.deployment?.environment ?? null,
    kind: task.deployment?.kind ?? null,
    failure: task.failure,
    createdAt: task.createdAt,
    scheduledAt: task.scheduledAt,
    queuedAt: task.queuedAt,
    claimedAt: task.claimedAt,
    startedAt: task.startedAt,
    completedAt: task.completedAt,
    plan: {
      state: aggregateState(flattenSteps(task.plan)),
      phases: task.plan.phases.map((phase) => ({
        path: phase.path,
        description: phase.description,
        state: phaseState(phase),
        blocks: phase.blocks.map((block) => ({
          path: block.path,
          description: block.description,
          state: blockState(block),
          parallel: block.parallel,
          steps: block.steps.map(stepView),
        })),
      })),
    },
    steps: flattenSteps(task.plan).map(stepView),
  };
}
