import { StepObservation, WorkerRuntimeMetrics } from '@shipdeck/metrics';
import { ManualClock } from '../testing/manual-clock';
import { RuntimeHarness, until } from '../testing/runtime-harness';

/** A sink that keeps what it was told. */
class RecordedMetrics implements WorkerRuntimeMetrics {
  delivered = 0;
  handedBack = 0;
  claims: (number | null)[] = [];
  steps: StepObservation[] = [];
  recovered: number[] = [];
  taskMessageDelivered(): void {
    this.delivered++;
  }
  taskMessageHandedBack(): void {
    this.handedBack++;
  }
  taskClaimed(seconds: number | null): void {
    this.claims.push(seconds);
  }
  stepEnded(step: StepObservation): void {
    this.steps.push(step);
  }
  tasksRecovered(count: number): void {
    this.recovered.push(count);
  }
}

describe('WorkerRuntime metrics', () => {
  let world: RuntimeHarness;
  beforeEach(async () => (world = await RuntimeHarness.open()));
  afterEach(() => world.close());

  it('reports the delivery, the claim with its queued-to-claimed latency, each ended step, and the recovery', async () => {
    const metrics = new RecordedMetrics();
    const runtime = world.runtime('w', { metrics });
    await runtime.start();
    expect(metrics.recovered).toEqual([0]);
    const task = await world.queuedTask(['first', 'second']);
    await until(async () => (await world.task(task.id)).state === 'EXECUTED', 'the task is executed');
    await until(() => metrics.steps.length === 2, 'both steps are reported');
    const executed = await world.task(task.id);
    expect(metrics.delivered).toBe(1);
    expect(metrics.handedBack).toBe(0);
    expect(metrics.claims).toEqual([(Date.parse(executed.claimedAt!) - Date.parse(task.queuedAt!)) / 1000]);
    expect(metrics.steps.map((s) => [s.stepType, s.outcome])).toEqual([
      ['test.Step', 'DONE'],
      ['test.Step', 'DONE'],
    ]);
    for (const step of metrics.steps) expect(step.durationSeconds).toBeGreaterThanOrEqual(0);
    await runtime.close();
  });

  it('counts a message it hands back', async () => {
    const metrics = new RecordedMetrics();
    const clock = new ManualClock();
    const runtime = world.runtime('w', { clock, configHash: 'another-hash', metrics, onDrained: () => undefined });
    await runtime.start();
    await world.queuedTask(['first']);
    await until(() => metrics.delivered === 1, 'the message is delivered');
    // A message of another configuration is held for a pause before it goes back.
    expect(metrics.handedBack).toBe(0);
    await clock.advance(1000);
    await until(() => metrics.handedBack === 1 && metrics.delivered === 2, 'the message is handed back and delivered again');
    expect(metrics.claims).toEqual([]);
    await runtime.close();
  });
});
