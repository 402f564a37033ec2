import type { ShownTaskState, StepView, TaskView } from '@shipdeck/tasks';
import { ApiError, UnreachableError } from './client';
import { stepLine, tail } from './format';
import { messageOf, seg, Session } from './session';

/** States in which `--wait` stops following a task. */
export const SETTLED_STATES: readonly ShownTaskState[] = ['EXECUTED', 'DONE', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED'];
/** Settled states that count as success (exit 0). */
export const SUCCESS_STATES: readonly ShownTaskState[] = ['EXECUTED', 'DONE'];

/** How many log lines a failed step shows. */
export const LOG_TAIL_LINES = 20;

/** A task state line: `task ID STATE`. */
export const taskLine = (task: Pick<TaskView, 'id' | 'state'>): string => `task ${task.id} ${task.state}`;

/**
 * Polls a task until it settles, printing each task state change and each step state change
 * (unless `--json`). Survives a master restart: while the master cannot be reached or answers
 * 502/503/504, it keeps retrying for `reconnectTimeoutMs`.
 */
export async function followTask(session: Session, first: TaskView): Promise<TaskView> {
  let task = first;
  const seen = new Map<string, StepView['state']>(first.steps.map((s) => [s.path, 'PENDING']));
  printSteps(session, task, seen);
  while (!SETTLED_STATES.includes(task.state)) {
    await delay(session.pollIntervalMs);
    const next = await fetchTask(session, task.id);
    // Steps first: they explain the task state that follows them.
    printSteps(session, next, seen);
    if (next.state !== task.state && !session.json) session.out(taskLine(next));
    task = next;
  }
  return task;
}

function printSteps(session: Session, task: TaskView, seen: Map<string, StepView['state']>): void {
  for (const step of task.steps) {
    if (seen.get(step.path) === step.state) continue;
    seen.set(step.path, step.state);
    if (!session.json) session.out(stepLine(step));
  }
}

async function fetchTask(session: Session, id: string): Promise<TaskView> {
  let lostSince: number | undefined;
  for (;;) {
    try {
      const { body } = await session.client.json<TaskView>('GET', `/tasks/${seg(id)}`);
      if (lostSince !== undefined) session.err('  (reconnected)');
      return body;
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (lostSince === undefined) {
        lostSince = Date.now();
        const seconds = Math.round(session.reconnectTimeoutMs / 1000);
        session.err(`  (lost contact with Shipdeck at ${session.client.server}; retrying for up to ${seconds}s)`);
      } else if (Date.now() - lostSince > session.reconnectTimeoutMs) {
        throw error;
      }
      await delay(session.pollIntervalMs);
    }
  }
}

function isTransient(error: unknown): boolean {
  return error instanceof UnreachableError || (error instanceof ApiError && [502, 503, 504].includes(error.status));
}

/**
 * Tells how a followed task ended and answers the exit code: 0 when it executed, else 1 with
 * what went wrong: the failed steps and the tail of their logs, or the step it paused before.
 */
export async function reportOutcome(session: Session, task: TaskView): Promise<number> {
  if (SUCCESS_STATES.includes(task.state)) {
    if (task.state === 'EXECUTED' && !session.json) {
      session.out(`archive it to record the new deployed state: shipdeck tasks archive ${task.id}`);
    }
    return 0;
  }
  session.err(`error: task ${task.id} ended ${task.state}${task.failure ? `: ${task.failure}` : ''}`);
  for (const step of task.steps.filter((s) => s.state === 'FAILED')) {
    session.err(`  step ${step.path} failed: ${step.description}${step.failure ? `: ${step.failure}` : ''}`);
    try {
      const log = await session.client.text(`/tasks/${seg(task.id)}/steps/${seg(step.path)}/log`);
      const lines = tail(log, LOG_TAIL_LINES);
      if (lines.length > 0) session.err(`  last ${lines.length} lines of its log:`);
      for (const line of lines) session.err(`    | ${line}`);
    } catch (error) {
      session.err(`  (its log is not available: ${messageOf(error)})`);
    }
  }
  for (const step of task.steps.filter((s) => s.state === 'PAUSED')) {
    session.err(`  paused before step ${step.path}: ${step.description}`);
  }
  if (['STOPPED', 'FAILED', 'ABORTED'].includes(task.state)) {
    session.err(`  continue with: shipdeck tasks start ${task.id}   or give up with: shipdeck tasks cancel ${task.id}`);
  }
  return 1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
