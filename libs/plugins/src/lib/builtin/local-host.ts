import { randomUUID } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { StepContext } from '@shipdeck/tasks';
import { errorMessage } from '../error-text';
import { ShipdeckPlugin } from '../plugin';
import { runShell } from '../shell';

const CONNECTION_CHECK_TIMEOUT_MS = 30_000;

/** Proves the worker can run commands and write to its work directory. */
async function checkConnection(ctx: StepContext): Promise<void> {
  let output = '';
  await runShell({
    command: 'echo shipdeck-ok',
    cwd: ctx.workDir,
    timeoutMs: CONNECTION_CHECK_TIMEOUT_MS,
    signal: ctx.signal,
    log: (text) => (output += text),
  });
  if (output.trim() !== 'shipdeck-ok') throw new Error(`a trivial command answered ${JSON.stringify(output)}`);
  ctx.log('ran a shell command: ok\n');

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
