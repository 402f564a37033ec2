import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, rm, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { StepContext } from '@shipdeck/tasks';
import { errorMessage } from '../error-text';
import { ShipdeckPlugin } from '../plugin';
import { SHELL } from '../shell';

/**
 * Proves the worker can run commands and write to its work directory. Everything is checked in
 * the worker's own process: spawning a shell to echo a word cost more CPU than the rest of a
 * control task, and proves no more than that the shell is there and executable.
 */
async function checkConnection(ctx: StepContext): Promise<void> {
  try {
    await access(SHELL, constants.X_OK);
  } catch (error) {
    throw new Error(`cannot run commands: ${SHELL} is not executable: ${errorMessage(error)}`);
  }
  ctx.log(`${SHELL} is executable: ok\n`);

  const probe = join(ctx.workDir, `.shipdeck-check-${randomUUID()}`);
  try {
    await writeFile(probe, 'ok\n');
  } catch (error) {
    throw new Error(`cannot write to work directory ${ctx.workDir}: ${errorMessage(error)}`);
  } finally {
    await rm(probe, { force: true });
  }
  ctx.log(`wrote to work directory ${ctx.workDir}: ok\n`);
  ctx.log(`host ${hostname()}, user ${userInfo().username}\n`);
}

/** The `local` host type: the worker's own machine. Control `checkConnection`. */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-local-host',
  hostTypes: [{ name: 'local', controls: { checkConnection } }],
};
