import type { TaskView } from '@shipdeck/tasks';
import { runCli } from '../lib/run-cli';
import { FakeEventBody, FakeMaster, FakeRoutes, Sink, eventBatches, is, json, startFakeMaster } from './fake-master';
import { taskView } from './task-views';

/**
 * The CLI run in-process against a fake master, its output collected. {@link useCliHarness} gives
 * each test fresh output and closes the master the test served.
 */
export class CliHarness {
  stdout = new Sink();
  stderr = new Sink();
  private served: FakeMaster | undefined;

  /** The fake master this test serves; fails when it serves none. */
  get master(): FakeMaster {
    if (!this.served) throw new Error('the test serves no fake master');
    return this.served;
  }

  /** Starts the fake master of this test. */
  async serve(routes: FakeRoutes): Promise<FakeMaster> {
    this.served = await startFakeMaster(routes);
    return this.served;
  }

  /** Runs the CLI against the fake master (via --server unless the test sets its own). */
  run(argv: string[], env: Record<string, string> = {}): Promise<number> {
    const args = this.served && !argv.includes('--server') && !env['SHIPDECK_SERVER'] ? ['--server', this.served.url, ...argv] : argv;
    return runCli(args, { stdout: this.stdout, stderr: this.stderr, env, retryDelayMs: 1, reconnectTimeoutMs: 2000 });
  }

  /** The requests the fake master received, as `METHOD url`. */
  calls(): string[] {
    return this.master.requests.map((r) => `${r.method} ${r.url}`);
  }

  /** A master whose task goes through `states` in its event stream, and then shows the last of them. */
  deploymentMaster(states: TaskView[], log = ''): Promise<FakeMaster> {
    const events = eventBatches(batchesOf(states));
    return this.serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments') || is(req, 'POST', '/api/v1/undeployments')) {
        const started = (JSON.parse(req.body) as { start?: boolean }).start === true;
        return json({ taskId: 't1', task: taskView(started ? 'QUEUED' : 'PENDING', states[0].steps.map((s) => ({ ...s, state: 'PENDING' }))) }, 201);
      }
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(states[states.length - 1]);
      if (req.method === 'GET' && req.url.endsWith('/log')) return { text: log };
      return undefined;
    });
  }

  /** Fresh output for the next test. */
  reset(): void {
    this.stdout = new Sink();
    this.stderr = new Sink();
  }

  /** Closes the master this test served, if any. */
  async close(): Promise<void> {
    await this.served?.close();
    this.served = undefined;
  }
}

/** A {@link CliHarness} for the tests of the calling spec file: fresh output before each, its master closed after. */
export function useCliHarness(): CliHarness {
  const harness = new CliHarness();
  beforeEach(() => harness.reset());
  afterEach(() => harness.close());
  return harness;
}

/** The event batches of a task that goes through `states`: what changed from one to the next, as the master streams it. */
function batchesOf(states: TaskView[]): FakeEventBody[][] {
  let previous: TaskView | undefined;
  return states
    .map((t) => {
      const batch: FakeEventBody[] = [];
      for (const st of t.steps) {
        if (previous?.steps.find((p) => p.path === st.path)?.state !== st.state) batch.push({ event: 'step', data: { path: st.path, state: st.state } });
      }
      if (previous?.state !== t.state) batch.push({ event: 'state', data: { state: t.state } });
      previous = t;
      return batch;
    })
    .filter((batch) => batch.length > 0);
}
