import { buildPlan, flattenSteps } from './plan-ops';
import { PlanExecution, ExecutionHooks } from './engine';
import { PlanStep, StepSpec } from './plan';
import { StepContext, StepExecutor } from './step-executor';

function spec(description: string, order = 50, host = 'h1'): StepSpec {
  return { description, order, ciType: 'test.Step', operation: 'CREATE', target: { name: host, type: 'local' }, properties: {} };
}

/** A step executor driven by the test: each step resolves, fails or waits for abort by description. */
class ScriptedExecutor implements StepExecutor {
  readonly started: string[] = [];
  private readonly gates = new Map<string, () => void>();
  constructor(private readonly script: Record<string, 'ok' | 'fail' | 'hang' | 'gate'> = {}) {}

  execute(ctx: StepContext): Promise<void> {
    const name = ctx.step.description;
    this.started.push(name);
    ctx.log(`running ${name}\n`);
    const mode = this.script[name] ?? 'ok';
    if (mode === 'ok') return Promise.resolve();
    if (mode === 'fail') return Promise.reject(new Error(`${name} broke`));
    return new Promise((resolve, reject) => {
      ctx.signal.addEventListener('abort', () => reject(new Error('killed')));
      if (mode === 'gate') this.gates.set(name, resolve);
    });
  }

  open(name: string): void {
    this.gates.get(name)?.();
  }

  async waitStarted(name: string): Promise<void> {
    const deadline = Date.now() + 2000;
    while (!this.started.includes(name)) {
      if (Date.now() > deadline) throw new Error(`${name} never started`);
      await new Promise((r) => setImmediate(r));
    }
  }
}

function hooks() {
  const changes: string[] = [];
  const failures: string[] = [];
  const logs: string[] = [];
  const h: ExecutionHooks = {
    stepChanged: async (step: PlanStep) => void changes.push(`${step.path}:${step.state}`),
    firstFailure: async (step: PlanStep) => void failures.push(step.path),
    log: (step, text) => void logs.push(`${step.path}|${text}`),
  };
  return { h, changes, failures, logs };
}

function run(plan: ReturnType<typeof buildPlan>, executor: ScriptedExecutor, h: ExecutionHooks) {
  return new PlanExecution({ taskId: 't1', plan, executors: () => executor, hooks: h, workDir: '/tmp' });
}

describe('PlanExecution', () => {
  it('runs serial steps in order and completes', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('b', 60), spec('a', 10)] }] }]);
    const executor = new ScriptedExecutor();
    const { h, changes, logs } = hooks();
    expect(await run(plan, executor, h).run()).toBe('completed');
    expect(executor.started).toEqual(['a', 'b']);
    expect(changes).toEqual(['1-1-1:EXECUTING', '1-1-1:DONE', '1-1-2:EXECUTING', '1-1-2:DONE']);
    expect(logs).toContain('1-1-1|running a\n');
  });

  it('stops a serial block at the first failure and continues from it on the next run', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2), spec('c', 3)] }] }]);
    const { h, failures } = hooks();
    expect(await run(plan, new ScriptedExecutor({ b: 'fail' }), h).run()).toBe('failed');
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['DONE', 'FAILED', 'PENDING']);
    expect(failures).toEqual(['1-1-2']);
    expect(flattenSteps(plan)[1].failure).toBe('b broke');

    flattenSteps(plan)[1].state = 'PENDING';
    const second = new ScriptedExecutor();
    expect(await run(plan, second, hooks().h).run()).toBe('completed');
    expect(second.started).toEqual(['b', 'c']);
  });

  it('lets parallel siblings finish after a failure', async () => {
    const plan = buildPlan([
      { description: 'p', blocks: [{ description: 'b', parallel: true, steps: [spec('x', 1, 'h1'), spec('y', 1, 'h2')] }, { description: 'next', parallel: false, steps: [spec('z')] }] },
    ]);
    const executor = new ScriptedExecutor({ x: 'fail', y: 'gate' });
    const { h, failures } = hooks();
    const result = run(plan, executor, h).run();
    await executor.waitStarted('y');
    await new Promise((r) => setImmediate(r));
    expect(failures).toEqual(['1-1-1']);
    expect(flattenSteps(plan)[1].state).toBe('EXECUTING');
    executor.open('y');
    expect(await result).toBe('failed');
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['FAILED', 'DONE', 'PENDING']);
    expect(executor.started).not.toContain('z');
  });

  it('halts after the current step when stopped', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2)] }] }]);
    const executor = new ScriptedExecutor({ a: 'gate' });
    const execution = run(plan, executor, hooks().h);
    const result = execution.run();
    await executor.waitStarted('a');
    execution.requestStop();
    executor.open('a');
    expect(await result).toBe('halted');
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['DONE', 'PENDING']);
  });

  it('fails the running step on abort', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2)] }] }]);
    const executor = new ScriptedExecutor({ a: 'hang' });
    const { h, failures } = hooks();
    const execution = run(plan, executor, h);
    const result = execution.run();
    await executor.waitStarted('a');
    execution.requestAbort();
    expect(await result).toBe('aborted');
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['FAILED', 'PENDING']);
    expect(flattenSteps(plan)[0].failure).toBe('aborted by user');
    expect(failures).toEqual([]);
  });

  it('does not start a step whose EXECUTING checkpoint brought an abort', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2)] }] }]);
    const executor = new ScriptedExecutor({ a: 'hang' });
    const { h, failures } = hooks();
    const execution = run(plan, executor, h);
    // As the worker does when the EXECUTING save answers ABORTING.
    h.stepChanged = async (step) => {
      if (step.state === 'EXECUTING') execution.requestAbort();
    };
    expect(await execution.run()).toBe('aborted');
    expect(executor.started).toEqual([]);
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['FAILED', 'PENDING']);
    expect(flattenSteps(plan)[0].failure).toBe('aborted by user');
    expect(failures).toEqual([]);
  });

  it('marks as ending the run only a step end after which no step starts', async () => {
    const ends = async (build: () => ReturnType<typeof buildPlan>, script: Record<string, 'ok' | 'fail'>, stopAt?: string) => {
      const seen: string[] = [];
      const plan = build();
      const execution = new PlanExecution({
        taskId: 't1',
        plan,
        executors: () => new ScriptedExecutor(script),
        workDir: '/tmp',
        hooks: {
          stepChanged: async (step, endsRun) => {
            if (`${step.description}:${step.state}` === stopAt) execution.requestStop();
            if (step.state !== 'EXECUTING') seen.push(`${step.description}:${step.state}${endsRun ? ':ends' : ''}`);
          },
          firstFailure: async () => undefined,
          log: () => undefined,
        },
      });
      await execution.run();
      return seen;
    };
    const serial = () => buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2), spec('c', 3)] }] }]);
    const parallel = () =>
      buildPlan([
        { description: 'p', blocks: [{ description: 'b', parallel: true, steps: [spec('a', 1), spec('b', 2)] }] },
        { description: 'q', blocks: [{ description: 'b', parallel: false, steps: [spec('c', 3)] }] },
      ]);
    expect(await ends(serial, {})).toEqual(['a:DONE', 'b:DONE', 'c:DONE:ends']);
    expect(await ends(serial, { b: 'fail' })).toEqual(['a:DONE', 'b:FAILED:ends']);
    // A stop requested while the step ran halts the run after it; one answered by the step's end
    // (its own save) could not be known before.
    expect(await ends(serial, {}, 'a:EXECUTING')).toEqual(['a:DONE:ends']);
    expect(await ends(serial, {}, 'a:DONE')).toEqual(['a:DONE']);
    expect(await ends(parallel, {})).toEqual(['a:DONE', 'b:DONE', 'c:DONE:ends']);
    expect(await ends(parallel, { a: 'fail' })).toEqual(['a:FAILED', 'b:DONE:ends']);
  });

  it('pauses before a marked step, and runs the paused step when resumed', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2)] }] }]);
    flattenSteps(plan)[1].pauseBefore = true;
    const first = new ScriptedExecutor();
    expect(await run(plan, first, hooks().h).run()).toBe('halted');
    expect(flattenSteps(plan).map((s) => s.state)).toEqual(['DONE', 'PAUSED']);
    const second = new ScriptedExecutor();
    expect(await run(plan, second, hooks().h).run()).toBe('completed');
    expect(second.started).toEqual(['b']);
  });

  it('passes over skipped steps', async () => {
    const plan = buildPlan([{ description: 'p', blocks: [{ description: 'b', parallel: false, steps: [spec('a', 1), spec('b', 2)] }] }]);
    flattenSteps(plan)[0].state = 'SKIPPED';
    const executor = new ScriptedExecutor();
    expect(await run(plan, executor, hooks().h).run()).toBe('completed');
    expect(executor.started).toEqual(['b']);
  });
});
