/** The scene of the recovery tests: a ledger host and an application of ledger steps, deployed to fresh environments. */
import { join } from 'node:path';
import type { TaskView } from '@shipdeck/tasks';
import { createDeployment, importLedgerPackage, putEnvironment, putLedgerHost, startTask } from './rest-actions';
import { Api, waitForTask } from './rest-client';

/** The host of the scene (type `ledger`). */
export const LEDGER_HOST = 'ledger-1';
/** The application of the scene: one test.Ledger step per sleep given to {@link putLedgerScene}. */
export const LEDGER_APP = 'steps-app';

/** What {@link putLedgerScene} set up. */
export interface LedgerScene {
  /** The ledger file the steps write to. */
  ledger: string;
  /** Deploys the application to a new `environment` on the host; answers the task once step `step` (1-based) executes. */
  deployUntilStep(environment: string, step: number): Promise<TaskView>;
}

/**
 * Puts the host {@link LEDGER_HOST} writing to `ledger.txt` in `sandbox`, and imports
 * {@link LEDGER_APP} 1.0.0 with one serial step per entry of `sleepsMs`, through `client`.
 */
export async function putLedgerScene(client: Api, sandbox: string, sleepsMs: number[]): Promise<LedgerScene> {
  const ledger = join(sandbox, 'ledger.txt');
  await putLedgerHost(client, LEDGER_HOST, ledger);
  await importLedgerPackage(client, LEDGER_APP, ledger, sleepsMs);
  return {
    ledger,
    async deployUntilStep(environment, step) {
      await putEnvironment(client, environment, [LEDGER_HOST]);
      const id = await createDeployment(client, LEDGER_APP, '1.0.0', environment);
      await startTask(client, id);
      return waitForTask(client, id, (t) => t.state === 'EXECUTING' && t.steps[step - 1].state === 'EXECUTING', 15_000, true);
    },
  };
}
