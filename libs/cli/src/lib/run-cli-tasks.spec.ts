import { useCliHarness } from '../test-support/cli-harness';
import { is, json, page } from '../test-support/fake-master';
import { APP, CONFIG, stepView, taskView } from '../test-support/task-views';

/*
 * The CLI in-process against a fake master (see ../test-support/cli-harness.ts). The tasks and
 * workers commands, and ids given by prefix and workers by name.
 */

const cli = useCliHarness();

describe('tasks', () => {
  it('lists as a table, passing the filters', async () => {
    await cli.serve(() => page([taskView('FAILED'), { ...taskView('EXECUTING'), id: 't22', type: 'CONTROL', description: 'Check local' }]));
    expect(await cli.run(['tasks', 'list', '--state', 'FAILED', '--type', 'DEPLOYMENT'])).toBe(0);
    expect(cli.calls()).toEqual(['GET /api/v1/tasks?state=FAILED&type=DEPLOYMENT']);
    expect(cli.stdout.lines).toEqual([
      'ID   TYPE        STATE      DESCRIPTION',
      't1   DEPLOYMENT  FAILED     Deploy petclinic 1.0.0 to dev',
      't22  CONTROL     EXECUTING  Check local',
    ]);
  });

  it('lists as JSON with --json', async () => {
    await cli.serve(() => page([taskView('FAILED')]));
    expect(await cli.run(['tasks', 'list', '--json'])).toBe(0);
    expect(JSON.parse(cli.stdout.text)).toEqual([taskView('FAILED')]);
  });

  it('follows nextCursor to the last page', async () => {
    await cli.serve((req) => (req.url.includes('cursor=c2') ? page([taskView('FAILED')]) : page([{ ...taskView('EXECUTING'), id: 't0' }], 'c2')));
    expect(await cli.run(['tasks', 'list', '--state', 'FAILED'])).toBe(0);
    expect(cli.calls()).toEqual(['GET /api/v1/tasks?state=FAILED', 'GET /api/v1/tasks?state=FAILED&cursor=c2']);
    expect(cli.stdout.lines.slice(1).map((l) => l.split(/\s+/)[0])).toEqual(['t0', 't1']);
  });

  it('says so when there is none', async () => {
    await cli.serve(() => page([]));
    expect(await cli.run(['tasks', 'list'])).toBe(0);
    expect(cli.stdout.text).toBe('no tasks\n');
  });

  it('shows a task with its plan tree', async () => {
    const t = taskView('FAILED', [stepView('1-1-1', 'DONE', CONFIG), stepView('1-1-2', 'FAILED', APP, 'exit code 3')], { worker: 'w1' });
    await cli.serve(() => json(t));
    expect(await cli.run(['tasks', 'show', 't1'])).toBe(0);
    expect(cli.stdout.text).toContain('state:       FAILED\n');
    expect(cli.stdout.text).toContain('deployment:  petclinic 1.0.0 → dev (INITIAL)\n');
    expect(cli.stdout.text).toContain(
      ['  1      PENDING    Deploy', '    1-1    PENDING    Deploy on local', '      1-1-1  DONE       Create app-config on local', '      1-1-2  FAILED     Create app on local'].join('\n'),
    );
    expect(cli.stdout.text).toContain('exit code 3');
  });

  it.each([
    ['start', 'QUEUED'],
    ['stop', 'STOPPING'],
    ['abort', 'ABORTING'],
    ['cancel', 'CANCELLING'],
    ['archive', 'DONE'],
  ] as const)('%s prints the new state', async (operation, state) => {
    await cli.serve((req) => (is(req, 'POST', `/api/v1/tasks/t1/${operation}`) ? json(taskView(state)) : undefined));
    expect(await cli.run(['tasks', operation, 't1'])).toBe(0);
    expect(cli.stdout.text).toBe(`task t1 ${state}\n`);
  });

  it('prints an illegal transition refused by the server', async () => {
    await cli.serve(() => json({ error: { code: 'ILLEGAL_TRANSITION', message: 'cannot stop a task in state PENDING', details: [] } }, 409));
    expect(await cli.run(['tasks', 'stop', 't1'])).toBe(1);
    expect(cli.stderr.text).toBe('error: ILLEGAL_TRANSITION: cannot stop a task in state PENDING\n');
  });

  it('prints a step log', async () => {
    await cli.serve((req) => (is(req, 'GET', '/api/v1/tasks/t1/steps/1-1-2/log') ? { text: 'one\ntwo\n' } : undefined));
    expect(await cli.run(['tasks', 'log', 't1', '1-1-2'])).toBe(0);
    expect(cli.stdout.text).toBe('one\ntwo\n');
  });

  it('skips a step', async () => {
    await cli.serve(() => json(taskView('PENDING', [stepView('1-1-2', 'SKIPPED', APP)])));
    expect(await cli.run(['tasks', 'skip', 't1', '1-1-2'])).toBe(0);
    // `t1` is not a full id: the CLI looks for a task it prefixes (the fake master lists none).
    expect(cli.calls()).toEqual(['GET /api/v1/tasks', 'GET /api/v1/archive/tasks', 'POST /api/v1/tasks/t1/steps/1-1-2/skip']);
    expect(cli.stdout.text).toBe('task t1: step 1-1-2 SKIPPED\n');
  });

  it('escapes ids in paths', async () => {
    await cli.serve(() => json(taskView('PENDING')));
    await cli.run(['tasks', 'show', 'a/b c']);
    expect(cli.calls()).toEqual(['GET /api/v1/tasks', 'GET /api/v1/archive/tasks', 'GET /api/v1/tasks/a%2Fb%20c']);
  });

  it('prints every detail of a refused query', async () => {
    await cli.serve(() =>
      json({ error: { code: 'VALIDATION_FAILED', message: 'invalid query', details: [{ field: 'state', message: 'must be one of PENDING, …' }] } }, 400),
    );
    expect(await cli.run(['tasks', 'list', '--state', 'NOPE'])).toBe(1);
    expect(cli.stderr.lines).toEqual(['error: VALIDATION_FAILED: invalid query', '  state: must be one of PENDING, …']);
  });
});

describe('ids by prefix and workers by name', () => {
  const A = 'ee666bea-0000-4000-8000-000000000001';
  const B = 'ee666bea-1111-4000-8000-000000000002';
  const C = 'aa000000-2222-4000-8000-000000000003';

  it('resolves a unique task id prefix among current and archived tasks', async () => {
    await cli.serve((req) => {
      if (is(req, 'GET', '/api/v1/tasks')) return page([taskView('PENDING', [], { id: A })]);
      if (is(req, 'GET', '/api/v1/archive/tasks')) return json({ items: [taskView('DONE', [], { id: C })], nextCursor: null });
      return json(taskView('DONE', [], { id: req.url.split('/')[4] }));
    });
    expect(await cli.run(['tasks', 'archive', 'aa00'])).toBe(0);
    expect(cli.calls()).toContain(`POST /api/v1/tasks/${C}/archive`);
    expect(await cli.run(['tasks', 'show', 'EE666'])).toBe(0);
    expect(cli.calls()).toContain(`GET /api/v1/tasks/${A}`);
  });

  it('refuses an ambiguous prefix, listing the candidates, and sends nothing', async () => {
    await cli.serve((req) => (is(req, 'GET', '/api/v1/tasks') ? page([taskView('PENDING', [], { id: A }), taskView('FAILED', [], { id: B })]) : page([])));
    expect(await cli.run(['tasks', 'cancel', 'ee666bea'])).toBe(1);
    expect(cli.stderr.lines).toEqual([
      'error: task id prefix ee666bea is ambiguous; it matches:',
      `  ${A}  PENDING  Deploy petclinic 1.0.0 to dev`,
      `  ${B}  FAILED  Deploy petclinic 1.0.0 to dev`,
      'give more characters or the full id',
    ]);
    expect(cli.calls().filter((c) => c.startsWith('POST'))).toEqual([]);
  });

  it('names workers by name or id prefix; a shared name is ambiguous', async () => {
    const workers = [
      { id: 'w-123', name: 'local-1', state: 'CONNECTED' },
      { id: 'w-456', name: 'box', state: 'DISCONNECTED' },
      { id: 'w-789', name: 'box', state: 'CONNECTED' },
    ];
    await cli.serve((req) => (is(req, 'GET', '/api/v1/workers') ? page(workers) : req.method === 'DELETE' ? { status: 204 } : json({ id: 'w-123', state: 'DRAINING' })));
    expect(await cli.run(['workers', 'drain', 'local-1'])).toBe(0);
    expect(await cli.run(['workers', 'remove', 'w-45'])).toBe(0);
    expect(cli.stdout.lines).toEqual(['worker w-123 DRAINING', 'worker w-456 removed']);
    expect(await cli.run(['workers', 'drain', 'box'])).toBe(1);
    expect(cli.stderr.lines[0]).toBe('error: worker name box is ambiguous; it matches:');
    expect(cli.calls().filter((c) => !c.startsWith('GET'))).toEqual(['POST /api/v1/workers/w-123/drain', 'DELETE /api/v1/workers/w-456']);
  });
});

describe('workers', () => {
  it('lists workers', async () => {
    await cli.serve(() =>
      page([{ id: 'w1', name: 'box', address: 'box:8200', state: 'CONNECTED', deploymentTasks: 2, controlTasks: 0, configHash: 'h', capacity: 4, lastSeen: '2030-01-01T00:00:00Z' }]),
    );
    expect(await cli.run(['workers', 'list'])).toBe(0);
    expect(cli.calls()).toEqual(['GET /api/v1/workers']);
    expect(cli.stdout.lines[1].split(/\s+/)).toEqual(['w1', 'box', 'box:8200', 'CONNECTED', '2', '0', '4', '2030-01-01T00:00:00Z']);
  });

  it('marks a worker that left after draining', async () => {
    await cli.serve(() =>
      page([{ id: 'w2', name: 'old', address: 'old:1', state: 'DISCONNECTED', deploymentTasks: 0, controlTasks: 0, capacity: 1, lastSeen: '2030-01-01T00:00:00Z', drained: true }]),
    );
    expect(await cli.run(['workers', 'list'])).toBe(0);
    expect(cli.stdout.lines[1].split(/\s+/)).toEqual(['w2', 'old', 'old:1', 'DISCONNECTED(drained)', '0', '0', '1', '2030-01-01T00:00:00Z']);
  });

  it('drains a worker and restores ghost tasks', async () => {
    await cli.serve((req) => (req.url.endsWith('/drain') ? json({ id: 'w1', state: 'DRAINING' }) : { status: 204 }));
    expect(await cli.run(['workers', 'drain', 'w1'])).toBe(0);
    expect(await cli.run(['workers', 'restore-ghost-tasks'])).toBe(0);
    expect(cli.calls()).toEqual(['GET /api/v1/workers', 'POST /api/v1/workers/w1/drain', 'POST /api/v1/workers/restore-ghost-tasks']);
    expect(cli.stdout.lines).toEqual(['worker w1 DRAINING', 'asked every worker to re-register its ghost tasks']);
  });

  it("prints the server's message when the route does not exist yet", async () => {
    await cli.serve(() => undefined);
    expect(await cli.run(['workers', 'list'])).toBe(1);
    expect(cli.stderr.text).toBe('error: NOT_FOUND: no such endpoint: GET /api/v1/workers\n');
  });

  it('prints a 501 that is not in the API error shape', async () => {
    await cli.serve(() => ({ status: 501, text: 'Not Implemented\n' }));
    expect(await cli.run(['workers', 'restore-ghost-tasks'])).toBe(1);
    expect(cli.stderr.text).toBe('error: HTTP_501: Not Implemented\n');
  });
});
