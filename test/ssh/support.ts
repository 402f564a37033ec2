import { randomUUID } from 'node:crypto';
import { createRegistry, sshConnections } from '@shipdeck/plugins';
import { PlanStep, StepContext } from '@shipdeck/tasks';
import { pollUntil } from '../support/poll';

/** The registry the worker would have: built-in plugins, `ssh` among them. */
export const registry = createRegistry();

/** A step context as the worker's engine makes one, with its log collected. */
export interface TestStep extends StepContext {
  readonly controller: AbortController;
  output(): string;
}

/** A step of `ciType` against `host` (type ssh), of task `taskId` (a fresh one by default). */
export function sshStep(
  ciType: string,
  operation: string,
  properties: Record<string, unknown>,
  host: { name: string; properties: Record<string, unknown> },
  workDir: string,
  taskId = `task-${randomUUID()}`,
): TestStep {
  const step: PlanStep = {
    path: '1-1-1',
    state: 'EXECUTING',
    pauseBefore: false,
    description: `${operation} on ${host.name}`,
    order: 50,
    ciType,
    operation,
    deployable: 'test',
    target: { name: host.name, type: 'ssh', properties: host.properties },
    properties,
  };
  const controller = new AbortController();
  const chunks: string[] = [];
  return {
    taskId,
    step,
    workDir,
    signal: controller.signal,
    controller,
    log: (text) => void chunks.push(text),
    output: () => chunks.join(''),
  };
}

/** Starts the step through the registry, as the engine does. */
export function run(ctx: TestStep): Promise<void> {
  return registry.executorFor(ctx.step.ciType).execute(ctx);
}

/** Waits until the step's log contains `text`. */
export function logShows(ctx: TestStep, text: string | RegExp, timeoutMs = 15_000): Promise<void> {
  const found = () => (typeof text === 'string' ? ctx.output().includes(text) : text.test(ctx.output()));
  return pollUntil(found, { timeoutMs, intervalMs: 20, describe: () => `step log never showed ${String(text)}: ${ctx.output()}` });
}

export { sshConnections };
