/** The recovery files workers keep in their work directory (spec §5), as the tests read them. */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { RecoveryFile } from '@shipdeck/worker-runtime';

/** A plan, from a task view or a recovery file: phases of blocks of steps. */
export interface PlanOf<S> {
  phases: readonly { blocks: readonly { steps: readonly S[] }[] }[];
}

/** Every step of a plan in execution order. */
export function planSteps<S>(plan: PlanOf<S>): S[] {
  return plan.phases.flatMap((phase) => phase.blocks.flatMap((block) => [...block.steps]));
}

/** `path:STATE` of every step, for compact assertions and messages. */
export function stepStates(plan: PlanOf<{ path: string; state: string }>): string[] {
  return planSteps(plan).map((s) => `${s.path}:${s.state}`);
}

/** The path of a task's recovery file in a work directory. */
export function recoveryFilePath(workDir: string, taskId: string): string {
  return join(workDir, `${taskId}.task`);
}

/**
 * The parsed recovery file of a task, or undefined while there is none. Files are replaced by
 * rename, so a reader never sees a half-written one; a file that does not parse is an error.
 */
export function readRecoveryFile(workDir: string, taskId: string): RecoveryFile | undefined {
  const path = recoveryFilePath(workDir, taskId);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as RecoveryFile;
  } catch (error) {
    throw new Error(`recovery file ${path} is not JSON (${(error as Error).message}): ${text.slice(0, 200)}`);
  }
}

/** File names in `<workDir>/quarantine/` (empty when there is none). */
export function quarantined(workDir: string): string[] {
  const dir = join(workDir, 'quarantine');
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}
