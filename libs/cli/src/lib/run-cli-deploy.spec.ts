import { useCliHarness } from '../test-support/cli-harness';
import { FakeRoutes, Sink, eventBatches, is, json } from '../test-support/fake-master';
import { APP, CONFIG, stepView, taskView } from '../test-support/task-views';
import { runCli } from './run-cli';

/*
 * The CLI in-process against a fake master (see ../test-support/cli-harness.ts). The deploy and
 * undeploy commands, and following a task's output: `--wait` and `tasks log --follow`, over an
 * event stream that drops and resumes.
 */

const cli = useCliHarness();

describe('deploy', () => {
  it('creates and starts the deployment in one request and prints the task id', async () => {
    await cli.deploymentMaster([taskView('PENDING', [stepView('1-1-1', 'PENDING', CONFIG)])]);
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--skip', '1-1-2', '--pause-before', '1-1-3'])).toBe(0);
    expect(cli.calls()).toEqual(['POST /api/v1/deployments']);
    expect(JSON.parse(cli.master.requests[0].body)).toEqual({
      application: 'petclinic',
      version: '1.0.0',
      environment: 'dev',
      skipSteps: ['1-1-2'],
      pauseBefore: ['1-1-3'],
      start: true,
    });
    expect(cli.stdout.lines).toEqual(['task t1 created and started: Deploy petclinic 1.0.0 to dev', 'task t1 QUEUED']);
  });

  it('--wait prints every step and task state change and exits 0 once executed', async () => {
    await cli.deploymentMaster([
      taskView('QUEUED', [stepView('1-1-1', 'PENDING', CONFIG), stepView('1-1-2', 'SKIPPED', APP)]),
      taskView('EXECUTING', [stepView('1-1-1', 'EXECUTING', CONFIG), stepView('1-1-2', 'SKIPPED', APP)]),
      taskView('EXECUTING', [stepView('1-1-1', 'EXECUTING', CONFIG), stepView('1-1-2', 'SKIPPED', APP)]),
      taskView('EXECUTED', [stepView('1-1-1', 'DONE', CONFIG), stepView('1-1-2', 'SKIPPED', APP)]),
    ]);
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    expect(cli.stdout.lines).toEqual([
      'task t1 created and started: Deploy petclinic 1.0.0 to dev',
      'task t1 QUEUED',
      '  1-1-2  SKIPPED    Create app on local',
      '  1-1-1  EXECUTING  Create app-config on local',
      'task t1 EXECUTING',
      '  1-1-1  DONE       Create app-config on local',
      'task t1 EXECUTED',
      'archive it to record the new deployed state: shipdeck tasks archive t1',
    ]);
    expect(cli.stderr.text).toBe('');
  });

  it('--wait exits 1 when the task fails, with the tail of the failed step log', async () => {
    const log = Array.from({ length: 30 }, (_, i) => `log line ${i + 1}`).join('\n') + '\n';
    await cli.deploymentMaster(
      [
        taskView('EXECUTING', [stepView('1-1-1', 'DONE', CONFIG), stepView('1-1-2', 'EXECUTING', APP)]),
        taskView('FAILED', [stepView('1-1-1', 'DONE', CONFIG), stepView('1-1-2', 'FAILED', APP, 'exit code 3')], { failure: 'step 1-1-2 failed' }),
      ],
      log,
    );
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(1);
    expect(cli.stdout.lines.slice(-2)).toEqual(['  1-1-2  FAILED     Create app on local', 'task t1 FAILED']);
    expect(cli.calls()).toContain('GET /api/v1/tasks/t1/steps/1-1-2/log');
    expect(cli.stderr.lines).toEqual([
      'error: task t1 ended FAILED: step 1-1-2 failed',
      '  step 1-1-2 failed: Create app on local: exit code 3',
      '  last 20 lines of its log:',
      ...Array.from({ length: 20 }, (_, i) => `    | log line ${i + 11}`),
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });

  it('--wait keeps reconnecting while the master answers 503, resuming after the last event', async () => {
    let connections = 0;
    const events = eventBatches([[{ event: 'state', data: { state: 'EXECUTING' } }], [{ event: 'state', data: { state: 'EXECUTED' } }]]);
    await cli.serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: taskView('QUEUED') }, 201);
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) {
        connections++;
        if (connections === 2) return json({ error: { code: 'NOT_READY', message: 'database down', details: [] } }, 503);
        return events(req);
      }
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(taskView('EXECUTED'));
      return undefined;
    });
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    const lost = `  (lost contact with Shipdeck at ${cli.master.url}; retrying for up to 2s)`;
    expect(cli.stderr.lines).toEqual([lost, '  (reconnected)']);
    expect(cli.stdout.lines.slice(0, 4)).toEqual(['task t1 created and started: Deploy petclinic 1.0.0 to dev', 'task t1 QUEUED', 'task t1 EXECUTING', 'task t1 EXECUTED']);
    const resumedFrom = cli.master.requests.filter((r) => r.url === '/api/v1/tasks/t1/events').map((r) => r.headers['last-event-id']);
    expect(resumedFrom).toEqual([undefined, '0.0', '0.0']);
    expect(cli.master.requests.find((r) => r.url.endsWith('/events'))?.headers['accept']).toBe('text/event-stream');
  });

  it('--wait drops a stream that stays silent and reopens it after the last event', async () => {
    const batches = [[{ event: 'state', data: { state: 'EXECUTING' } }], [{ event: 'state', data: { state: 'EXECUTED' } }]];
    const events = eventBatches(batches);
    await cli.serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: taskView('PENDING') }, 201);
      if (is(req, 'POST', '/api/v1/tasks/t1/start')) return json(taskView('QUEUED'));
      // The first stream hangs after its events, as behind a master that stopped answering.
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return { ...events(req), hold: req.headers['last-event-id'] === undefined };
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(taskView('EXECUTED'));
      return undefined;
    });
    const argv = ['--server', cli.master.url, 'deploy', 'petclinic', '1.0.0', 'dev', '--wait'];
    expect(await runCli(argv, { stdout: cli.stdout, stderr: cli.stderr, env: {}, retryDelayMs: 1, streamIdleTimeoutMs: 200 })).toBe(0);
    expect(cli.stdout.lines).toContain('task t1 EXECUTED');
    expect(cli.master.requests.filter((r) => r.url.endsWith('/events')).map((r) => r.headers['last-event-id'])).toEqual([undefined, '0.0']);
  });

  it('--wait gives up when the master stays out of reach', async () => {
    await cli.serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: taskView('PENDING') }, 201);
      if (is(req, 'POST', '/api/v1/tasks/t1/start')) return json(taskView('QUEUED'));
      return json({ error: { code: 'NOT_READY', message: 'database down', details: [] } }, 503);
    });
    const code = await runCli(['--server', cli.master.url, 'deploy', 'petclinic', '1.0.0', 'dev', '--wait'], {
      stdout: cli.stdout,
      stderr: cli.stderr,
      env: {},
      retryDelayMs: 5,
      reconnectTimeoutMs: 100,
    });
    expect(code).toBe(1);
    expect(cli.stderr.lines.at(-1)).toBe('error: NOT_READY: database down');
  });

  it('--wait --json prints only the settled task', async () => {
    await cli.deploymentMaster([taskView('EXECUTED', [stepView('1-1-1', 'DONE', CONFIG)])]);
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait', '--json'])).toBe(0);
    expect(JSON.parse(cli.stdout.text)).toMatchObject({ id: 't1', state: 'EXECUTED' });
  });
});

describe('undeploy', () => {
  it('--wait exits 1 when the task stops at a pause', async () => {
    const paused = { ...stepView('1-1-1', 'PAUSED', 'Destroy app on local'), pauseBefore: true };
    await cli.deploymentMaster([taskView('STOPPED', [paused])]);
    expect(await cli.run(['undeploy', 'petclinic', 'dev', '--wait'])).toBe(1);
    expect(cli.calls()[0]).toBe('POST /api/v1/undeployments');
    expect(JSON.parse(cli.master.requests[0].body)).toEqual({ application: 'petclinic', environment: 'dev', start: true });
    expect(cli.stderr.lines).toEqual([
      'error: task t1 ended STOPPED',
      '  paused before step 1-1-1: Destroy app on local',
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });

  it('--wait says why a task may have stopped when nobody here asked (a stop, or a master shutting down)', async () => {
    await cli.deploymentMaster([taskView('STOPPING', [stepView('1-1-1', 'EXECUTING', APP)]), taskView('STOPPED', [stepView('1-1-1', 'DONE', APP), stepView('1-1-2', 'PENDING', CONFIG)])]);
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(1);
    expect(cli.stdout.lines).toContain('task t1 STOPPED');
    expect(cli.stderr.lines).toEqual([
      'error: task t1 ended STOPPED',
      '  it stopped after its running step(s): someone ran `shipdeck tasks stop`, or its master was shut down',
      '  (an embedded master lets running steps finish within task.shutdownGracePeriod before it exits)',
      '  continue with: shipdeck tasks start t1   or give up with: shipdeck tasks cancel t1',
    ]);
  });
});

describe('following output', () => {
  /** A task whose one step writes three lines, streamed in pieces over three connections. */
  function scriptedTask(): FakeRoutes {
    const events = eventBatches([
      [
        { event: 'log', data: { path: '1-1-1', text: 'one\n' } },
        { event: 'step', data: { path: '1-1-1', state: 'EXECUTING' } },
        { event: 'state', data: { state: 'EXECUTING' } },
      ],
      [{ event: 'log', data: { path: '1-1-1', text: 'two\nthr' } }],
      [
        { event: 'log', data: { path: '1-1-1', text: 'ee' } },
        { event: 'step', data: { path: '1-1-1', state: 'DONE' } },
        { event: 'state', data: { state: 'EXECUTED' } },
      ],
    ]);
    return (req) => {
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
      if (is(req, 'GET', '/api/v1/tasks/t1')) return json(taskView('EXECUTED', [stepView('1-1-1', 'DONE', APP)]));
      return undefined;
    };
  }

  it('tasks log --follow prints the output as it arrives and exits 0 when the step is done', async () => {
    await cli.serve(scriptedTask());
    expect(await cli.run(['tasks', 'log', 't1', '1-1-1', '--follow'])).toBe(0);
    expect(cli.stdout.lines).toEqual(['one', 'two', 'three']);
  });

  it('tasks log --follow exits 1 when the step fails, and 1 for a step the task does not have', async () => {
    const events = eventBatches([
      [{ event: 'step', data: { path: '1-1-1', state: 'EXECUTING' } }, { event: 'state', data: { state: 'EXECUTING' } }],
      [{ event: 'log', data: { path: '1-1-1', text: 'boom' } }, { event: 'step', data: { path: '1-1-1', state: 'FAILED' } }],
    ]);
    await cli.serve((req) => {
      if (is(req, 'GET', '/api/v1/tasks/t1/events')) return events(req);
      return json(taskView('FAILED', [stepView('1-1-1', 'FAILED', APP, 'exit code 3')]));
    });
    expect(await cli.run(['tasks', 'log', 't1', '1-1-1', '--follow'])).toBe(1);
    expect(cli.stdout.lines).toEqual(['boom']);
    expect(cli.stderr.lines).toEqual(['error: step 1-1-1 FAILED: exit code 3 (task EXECUTING)']);
    cli.stderr = new Sink();
    expect(await cli.run(['tasks', 'log', 't1', '9-9-9', '--follow'])).toBe(1);
    expect(cli.stderr.lines).toEqual(['error: STEP_NOT_FOUND: step 9-9-9 does not exist in task t1']);
  });

  it('--wait interleaves step output with the state lines, plain when not a terminal', async () => {
    const routes = scriptedTask();
    await cli.serve((req) => {
      if (is(req, 'POST', '/api/v1/deployments')) return json({ taskId: 't1', task: taskView('QUEUED', [stepView('1-1-1', 'PENDING', APP)]) }, 201);
      return routes(req);
    });
    expect(await cli.run(['deploy', 'petclinic', '1.0.0', 'dev', '--wait'])).toBe(0);
    expect(cli.stdout.text).not.toContain('\r');
    expect(cli.stdout.lines).toEqual([
      'task t1 created and started: Deploy petclinic 1.0.0 to dev',
      'task t1 QUEUED',
      `  1-1-1  EXECUTING  ${APP}`,
      '    1-1-1 | one',
      'task t1 EXECUTING',
      '    1-1-1 | two',
      '    1-1-1 | three',
      `  1-1-1  DONE       ${APP}`,
      'task t1 EXECUTED',
      'archive it to record the new deployed state: shipdeck tasks archive t1',
    ]);
  });

  it('draws a progress line on a terminal and clears it at the end', async () => {
    await cli.serve(scriptedTask());
    const tty = Object.assign(new Sink(), { isTTY: true });
    const code = await runCli(['--server', cli.master.url, 'tasks', 'log', 't1', '1-1-1', '--follow'], {
      stdout: tty,
      stderr: cli.stderr,
      env: {},
      retryDelayMs: 1,
    });
    expect(code).toBe(0);
    expect(tty.text).toMatch(/\r\x1b\[Kstep 1-1-1 EXECUTING · task EXECUTING · 0:\d\d elapsed/);
    // What remains once the carriage returns are honoured: the output alone.
    const visible = tty.text.replace(/[^\n]*\r\x1b\[K/g, '');
    expect(visible).toBe('one\ntwo\nthree\n');
  });
});
