import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PlanStep, StepContext } from '@shipdeck/tasks';

/** A step context for unit tests of step implementations, with its log collected in `output`. */
export interface TestStepContext extends StepContext {
  readonly controller: AbortController;
  /** Everything the step logged so far. */
  output(): string;
}

export function stepContext(
  ciType: string,
  operation: string,
  properties: Record<string, unknown>,
  workDir: string,
  /** Host properties of the step's target (e.g. `allowedRoots`). */
  hostProperties?: Record<string, unknown>,
): TestStepContext {
  const step: PlanStep = {
    path: '1-1-1',
    state: 'EXECUTING',
    pauseBefore: false,
    description: `${operation} test`,
    order: 50,
    ciType,
    operation,
    deployable: 'test',
    target: { name: 'local-1', type: 'local', ...(hostProperties ? { properties: hostProperties } : {}) },
    properties,
  };
  const controller = new AbortController();
  const chunks: string[] = [];
  return {
    taskId: 'task-1',
    step,
    workDir,
    signal: controller.signal,
    controller,
    log: (text) => void chunks.push(text),
    output: () => chunks.join(''),
  };
}

/** A fresh temporary directory; `cleanup` removes it and everything in it. */
export function tempDir(prefix = 'shipdeck-test-'): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

/** Resolves when `condition` holds, polling every 20 ms; rejects after `timeoutMs`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
