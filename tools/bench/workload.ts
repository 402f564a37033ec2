import { BenchStep } from './args';
import { inLanes } from './driver';
import { call } from './rest';

/** The host every bench task targets: `local` runs in the worker process, nothing leaves the machine. */
export const BENCH_HOST = 'bench-local';
/** The application of `--step shell`, and the prefix of its environments. */
const SHELL_APP = 'bench-shell';

/** How the bench makes the tasks of one `--step`: what to set up first, and how to create task i. */
export interface Workload {
  /** `noop`, `sleep:200`… */
  name: string;
  /** What the step does, for the report's first line. */
  description: string;
  /** Creates what `count` more tasks need (hosts, packages, environments); not timed. */
  setup(masters: string[], count: number, concurrency: number): Promise<void>;
  /** Creates the next task on master `base`, started with `start` (QUEUED) or PENDING, and answers its id. */
  create(base: string, start: boolean): Promise<string>;
}

/** `PUT /hosts/bench-local` (type `local`): the target of every task. */
async function createBenchHost(base: string): Promise<void> {
  await call(base, 'PUT', `/hosts/${BENCH_HOST}`, { type: 'local' });
}

function controlTask(control: string, parameters: Record<string, unknown>) {
  return async (base: string, start: boolean): Promise<string> => {
    const created = await call<{ taskId: string }>(base, 'POST', '/control-tasks', { target: BENCH_HOST, control, parameters, start });
    return created.taskId;
  };
}

export function workloadOf(step: BenchStep): Workload {
  const simple = (description: string, control: string, parameters: Record<string, unknown>): Workload => ({
    name: step.kind === 'sleep' ? `sleep:${step.ms}` : step.kind,
    description,
    setup: (masters) => createBenchHost(masters[0]),
    create: controlTask(control, parameters),
  });
  switch (step.kind) {
    case 'noop':
      return simple('control noop (nothing: the engine alone)', 'noop', {});
    case 'sleep':
      return simple(`control noop with sleepMs ${step.ms} (I/O-bound, no CPU)`, 'noop', { sleepMs: step.ms });
    case 'check':
      return simple('control checkConnection', 'checkConnection', {});
    case 'shell': {
      let prepared = 0;
      let used = 0;
      return {
        name: 'shell',
        description: 'deployment of one cmd.Command step running `true` in a shell',
        // At most one unfinished deployment per application and environment (spec §1): one environment per task.
        async setup(masters, count, concurrency) {
          await createBenchHost(masters[0]);
          // Importing the same package again is a no-op (spec §1).
          await call(masters[0], 'POST', '/packages', {
            application: SHELL_APP,
            version: '1',
            deployables: [{ name: 'true', type: 'cmd.Command', create: 'true' }],
          });
          const from = prepared;
          prepared += count;
          await inLanes(count, concurrency, async (i) => {
            await call(masters[i % masters.length], 'PUT', `/environments/${SHELL_APP}-${from + i}`, { hosts: [BENCH_HOST], dictionary: {} });
          });
        },
        async create(base, start) {
          if (used >= prepared) throw new Error(`--step shell: only ${prepared} environments were prepared`);
          const body = { application: SHELL_APP, version: '1', environment: `${SHELL_APP}-${used++}`, start };
          return (await call<{ taskId: string }>(base, 'POST', '/deployments', body)).taskId;
        },
      };
    }
  }
}
