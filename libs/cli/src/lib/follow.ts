import type { ShownTaskState, StepView, TaskView } from '@shipdeck/tasks';
import { ApiError, UnreachableError } from './client';
import { stepLine, tail } from './format';
import { ProgressLine } from './progress';
import { messageOf, seg, Session } from './session';

/** States in which `--wait` stops following a task. */
export const SETTLED_STATES: readonly ShownTaskState[] = ['EXECUTED', 'DONE', 'FAILED', 'STOPPED', 'ABORTED', 'CANCELLED'];
/** Settled states that count as success (exit 0). */
export const SUCCESS_STATES: readonly ShownTaskState[] = ['EXECUTED', 'DONE'];
/** Step states a step does not leave by itself. */
const STEP_ENDED: readonly StepView['state'][] = ['DONE', 'FAILED', 'SKIPPED', 'PAUSED'];

/** How many log lines a failed step shows. */
export const LOG_TAIL_LINES = 20;

/** A task state line: `task ID STATE`. */
export const taskLine = (task: Pick<TaskView, 'id' | 'state'>): string => `task ${task.id} ${task.state}`;

/** A line of step output as progress shows it: `    1-2-1 | text`. */
const outputLine = (path: string, text: string): string => `    ${path} | ${text}`;

/**
 * What has been printed of each step's log, so that each poll prints only what is new; a line
 * is printed once it is complete (or when its step ends).
 */
class LogCursor {
  private readonly printed = new Map<string, number>();
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly session: Session,
    private readonly taskId: string,
    /** How a line of output is shown. */
    private readonly format: (path: string, text: string) => string = outputLine,
  ) {}

  /** Fetches the step's log and prints its new complete lines; with `end`, the unfinished last line too. */
  async pull(path: string, print: (line: string) => void, end = false): Promise<void> {
    let log: string;
    try {
      log = await this.session.client.text(`/tasks/${seg(this.taskId)}/steps/${seg(path)}/log`);
    } catch (error) {
      // A log that cannot be read now is read at the next poll; only the task's state is vital.
      if (error instanceof ApiError || error instanceof UnreachableError) return;
      throw error;
    }
    const from = this.printed.get(path) ?? 0;
    const text = (this.partial.get(path) ?? '') + log.slice(from);
    this.printed.set(path, log.length);
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    for (const line of lines) print(this.format(path, line));
    if (end && rest !== '') print(this.format(path, rest));
    this.partial.set(path, end ? '' : rest);
  }
}

/**
 * Polls a task until it settles, printing each task and step state change and, unless `--json`,
 * each step's output as it arrives. On a terminal a progress line (steps done / total, elapsed,
 * the running step) stays below the output. Survives a master restart: while the master cannot
 * be reached or answers 502/503/504, it keeps retrying for `reconnectTimeoutMs`.
 */
export async function followTask(session: Session, first: TaskView): Promise<TaskView> {
  const progress = new ProgressLine(session.progress, session.out);
  const print = (line: string) => (session.json ? undefined : progress.line(line));
  const logs = new LogCursor(session, first.id);
  const seen = new Map<string, StepView['state']>(first.steps.map((s) => [s.path, 'PENDING']));
  let task = first;
  try {
    await printSteps(task, seen, logs, print, session.json);
    if (!session.json) progress.update(progressText(task));
    while (!SETTLED_STATES.includes(task.state)) {
      await delay(session.pollIntervalMs);
      const next = await fetchTask(session, task.id, progress);
      // Steps first: they explain the task state that follows them.
      await printSteps(next, seen, logs, print, session.json);
      if (next.state !== task.state) print(taskLine(next));
      task = next;
      if (!session.json) progress.update(progressText(task));
    }
  } finally {
    progress.clear();
  }
  return task;
}

/** Prints the state changes of the task's steps, with the output each step wrote meanwhile. */
async function printSteps(
  task: TaskView,
  seen: Map<string, StepView['state']>,
  logs: LogCursor,
  print: (line: string) => void,
  json: boolean,
): Promise<void> {
  for (const step of task.steps) {
    const before = seen.get(step.path);
    const changed = before !== step.state;
    seen.set(step.path, step.state);
    if (json) continue;
    if (changed && step.state === 'EXECUTING') print(stepLine(step));
    const ran = step.state === 'EXECUTING' || (changed && (before === 'EXECUTING' || step.state === 'DONE' || step.state === 'FAILED'));
    if (ran) await logs.pull(step.path, print, step.state !== 'EXECUTING');
    if (changed && step.state !== 'EXECUTING') print(stepLine(step));
  }
}

/** `[2/5 steps] task EXECUTING · 1-2-1 Create app on local-1`. */
function progressText(task: TaskView): string {
  const done = task.steps.filter((s) => s.state === 'DONE' || s.state === 'SKIPPED').length;
  const running = task.steps.filter((s) => s.state === 'EXECUTING');
  const now = running.length === 0 ? '' : ` · ${running.map((s) => `${s.path} ${s.description}`).join(', ')}`;
  return `[${done}/${task.steps.length} steps] task ${task.state}${now}`;
}

async function fetchTask(session: Session, id: string, progress?: ProgressLine): Promise<TaskView> {
  let lostSince: number | undefined;
  const say = (line: string) => {
    progress?.clear();
    session.err(line);
  };
  for (;;) {
    try {
      const { body } = await session.client.json<TaskView>('GET', `/tasks/${seg(id)}`);
      if (lostSince !== undefined) say('  (reconnected)');
      return body;
    } catch (error) {
      if (!isTransient(error)) throw error;
      if (lostSince === undefined) {
        lostSince = Date.now();
        const seconds = Math.round(session.reconnectTimeoutMs / 1000);
        say(`  (lost contact with Shipdeck at ${session.client.server}; retrying for up to ${seconds}s)`);
      } else if (Date.now() - lostSince > session.reconnectTimeoutMs) {
        throw error;
      }
      await delay(session.pollIntervalMs);
    }
  }
}

/**
 * `tasks log ID PATH --follow`: prints the step's log so far, then its output as it arrives
 * until the step ends (or its task settles without running it). On a terminal a progress line
 * shows the step's state and the time elapsed. Answers 0 when the step is DONE or SKIPPED, else 1.
 */
export async function followStepLog(session: Session, taskId: string, path: string): Promise<number> {
  const progress = new ProgressLine(session.progress, session.out);
  // The log alone, as `tasks log` prints it without --follow.
  const logs = new LogCursor(session, taskId, (_path, text) => text);
  const print = (line: string) => progress.line(line);
  try {
    for (;;) {
      const task = await fetchTask(session, taskId, progress);
      const step = task.steps.find((s) => s.path === path);
      if (!step) throw new ApiError(404, 'STEP_NOT_FOUND', `step ${path} does not exist in task ${taskId}`);
      const ended = STEP_ENDED.includes(step.state) || (SETTLED_STATES.includes(task.state) && step.state !== 'EXECUTING');
      await logs.pull(path, print, ended);
      if (ended) {
        progress.clear();
        if (step.state === 'DONE' || step.state === 'SKIPPED') return 0;
        session.err(`error: step ${path} ${step.state}${step.failure ? `: ${step.failure}` : ''} (task ${task.state})`);
        return 1;
      }
      progress.update(`step ${path} ${step.state} · task ${task.state}`);
      await delay(session.pollIntervalMs);
    }
  } finally {
    progress.clear();
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
      const why = task.type === 'CONTROL' ? 'to take it off the current tasks' : 'to record the new deployed state';
      session.out(`archive it ${why}: shipdeck tasks archive ${task.id}`);
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
  const paused = task.steps.filter((s) => s.state === 'PAUSED');
  for (const step of paused) {
    session.err(`  paused before step ${step.path}: ${step.description}`);
  }
  if (task.state === 'STOPPED' && paused.length === 0) {
    // Nobody here asked: another user did, or the master is shutting down and let the steps finish.
    session.err('  it stopped after its running step(s): someone ran `shipdeck tasks stop`, or its master was shut down');
    session.err('  (an embedded master lets running steps finish within task.shutdownGracePeriod before it exits)');
  }
  if (['STOPPED', 'FAILED', 'ABORTED'].includes(task.state)) {
    session.err(`  continue with: shipdeck tasks start ${task.id}   or give up with: shipdeck tasks cancel ${task.id}`);
  }
  return 1;
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
