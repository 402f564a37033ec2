import type { ShownTaskState, StepView, TaskView } from '@shipdeck/tasks';
import { ApiError } from './client';
import { Contact, taskEvents } from './event-stream';
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

/** Step states in which a step writes no more output (until it runs again). */
const STEP_QUIET: readonly StepView['state'][] = ['PENDING', ...STEP_ENDED];

/**
 * Turns the log text of each step, as it arrives in pieces, into lines: a line is printed once it
 * is complete, or when its step ends.
 */
class LineBuffer {
  private readonly partial = new Map<string, string>();

  constructor(
    private readonly print: (line: string) => void,
    /** How a line of output is shown. */
    private readonly format: (path: string, text: string) => string = outputLine,
  ) {}

  /** Adds text of a step's log and prints its complete lines. */
  add(path: string, text: string): void {
    const lines = ((this.partial.get(path) ?? '') + text).split('\n');
    this.partial.set(path, lines.pop() ?? '');
    for (const line of lines) this.print(this.format(path, line));
  }

  /** The step ended: prints its unfinished last line, if any. */
  end(path: string): void {
    const rest = this.partial.get(path) ?? '';
    this.partial.delete(path);
    if (rest !== '') this.print(this.format(path, rest));
  }
}

/**
 * Follows a task's event stream until the task settles, printing each task and step state change
 * and, unless `--json`, each step's output as it arrives. On a terminal a progress line (steps
 * done / total, elapsed, the running step) stays below the output. Survives a master restart: the
 * stream is opened again (see {@link taskEvents}) for up to `reconnectTimeoutMs`. Answers the
 * settled task as the master shows it then.
 */
export async function followTask(session: Session, first: TaskView): Promise<TaskView> {
  const progress = new ProgressLine(session.progress, session.out);
  const print = (line: string) => (session.json ? undefined : progress.line(line));
  const contact = new Contact(session, () => progress.clear());
  const output = new LineBuffer(print);
  let steps = first.steps.map((s) => ({ ...s, state: 'PENDING' as StepView['state'] }));
  let state = first.state;
  const stepAt = async (path: string): Promise<StepView> => {
    let step = steps.find((s) => s.path === path);
    if (!step) {
      // A step the task did not show at first: learn the plan again.
      const known = new Map(steps.map((s) => [s.path, s.state]));
      const task = await contact.retry(() => fetchTask(session, first.id));
      steps = task.steps.map((s) => ({ ...s, state: known.get(s.path) ?? 'PENDING' }));
      step = steps.find((s) => s.path === path) ?? { ...task.steps[0], path, description: '', state: 'PENDING' };
    }
    return step;
  };
  try {
    if (!session.json) progress.update(progressText(state, steps));
    for await (const event of taskEvents(session, first.id, contact)) {
      if (event.event === 'removed') throw new ApiError(404, 'TASK_NOT_FOUND', `task ${first.id} was removed`);
      if (event.event === 'log') {
        const step = await stepAt(event.path);
        // Its output may arrive before the step's state change, within one look of the master.
        if (STEP_QUIET.includes(step.state)) {
          step.state = 'EXECUTING';
          print(stepLine(step));
        }
        output.add(event.path, event.text);
      } else if (event.event === 'step') {
        const step = await stepAt(event.path);
        if (step.state === event.state) continue;
        step.state = event.state;
        if (event.state !== 'EXECUTING') output.end(step.path);
        print(stepLine(step));
      } else if (event.state !== state) {
        state = event.state;
        print(taskLine({ id: first.id, state }));
      }
      if (!session.json) progress.update(progressText(state, steps));
      if (event.event === 'state' && SETTLED_STATES.includes(state)) break;
    }
  } finally {
    progress.clear();
  }
  return contact.retry(() => fetchTask(session, first.id));
}

/** `[2/5 steps] task EXECUTING · 1-2-1 Create app on local-1`. */
function progressText(state: ShownTaskState, steps: readonly StepView[]): string {
  const done = steps.filter((s) => s.state === 'DONE' || s.state === 'SKIPPED').length;
  const running = steps.filter((s) => s.state === 'EXECUTING');
  const now = running.length === 0 ? '' : ` · ${running.map((s) => `${s.path} ${s.description}`).join(', ')}`;
  return `[${done}/${steps.length} steps] task ${state}${now}`;
}

async function fetchTask(session: Session, id: string): Promise<TaskView> {
  return (await session.client.json<TaskView>('GET', `/tasks/${seg(id)}`)).body;
}

/**
 * `tasks log ID PATH --follow`: prints the step's log so far, then its output as it arrives
 * until the step ends (or its task settles without running it), from the task's event stream.
 * On a terminal a progress line shows the step's state and the time elapsed. Answers 0 when the
 * step is DONE or SKIPPED, else 1.
 */
export async function followStepLog(session: Session, taskId: string, path: string): Promise<number> {
  const progress = new ProgressLine(session.progress, session.out);
  const contact = new Contact(session, () => progress.clear());
  // The log alone, as `tasks log` prints it without --follow.
  const output = new LineBuffer((line) => progress.line(line), (_path, text) => text);
  let step: StepView['state'] | undefined;
  let task: ShownTaskState | undefined;
  try {
    for await (const event of taskEvents(session, taskId, contact)) {
      if (event.event === 'removed') throw new ApiError(404, 'TASK_NOT_FOUND', `task ${taskId} was removed`);
      if (event.event === 'log' && event.path === path) output.add(path, event.text);
      if (event.event === 'step' && event.path === path) step = event.state;
      if (event.event === 'state') {
        task = event.state;
        // The first look names every step before the task's state.
        if (step === undefined) throw new ApiError(404, 'STEP_NOT_FOUND', `step ${path} does not exist in task ${taskId}`);
      }
      if (step === undefined || task === undefined) continue;
      if (STEP_ENDED.includes(step) || (SETTLED_STATES.includes(task) && step !== 'EXECUTING')) {
        output.end(path);
        progress.clear();
        if (step === 'DONE' || step === 'SKIPPED') return 0;
        const failure = (await contact.retry(() => fetchTask(session, taskId))).steps.find((s) => s.path === path)?.failure;
        session.err(`error: step ${path} ${step}${failure ? `: ${failure}` : ''} (task ${task})`);
        return 1;
      }
      progress.update(`step ${path} ${step} · task ${task}`);
    }
  } finally {
    progress.clear();
  }
  // taskEvents ends only by throwing.
  throw new Error('the event stream ended');
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
