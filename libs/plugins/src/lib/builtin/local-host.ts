import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { access, rm, writeFile } from 'node:fs/promises';
import { hostname, userInfo } from 'node:os';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { FieldError } from '@shipdeck/errors';
import { StepContext } from '@shipdeck/tasks';
import { errorMessage } from '../error-text';
import { ShipdeckPlugin } from '../plugin';
import { PropertyReader, readStepProperties } from '../properties';
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

/** The longest `sleepMs` of control `noop`: one hour, like a command's default timeout. */
export const NOOP_MAX_SLEEP_MS = 3_600_000;

function readNoopParameters(reader: PropertyReader): { sleepMs: number } {
  const sleepMs = reader.integer('sleepMs', 0, NOOP_MAX_SLEEP_MS) ?? 0;
  reader.rejectUnknown('control noop');
  return { sleepMs };
}

/**
 * Does nothing, or waits `sleepMs` without using the CPU, and writes no step log: a control task
 * whose whole cost is the engine's (REST, database, queue, claim, recovery file, step states).
 * The benchmark's trivial and I/O-bound tasks (docs/performance.md). Aborting ends the wait at once.
 */
async function noop(ctx: StepContext): Promise<void> {
  const { sleepMs } = readStepProperties('control noop', ctx.step.properties, readNoopParameters);
  if (sleepMs > 0) await delay(sleepMs, undefined, { signal: ctx.signal });
}

function validateControl(control: string, parameters: Record<string, unknown>, fieldPrefix: string): FieldError[] {
  if (control !== 'noop') return [];
  // Strict: control parameters have no placeholders.
  const reader = new PropertyReader(parameters, fieldPrefix, false);
  readNoopParameters(reader);
  return reader.errors;
}

/** The `local` host type: the worker's own machine. Controls `checkConnection` and `noop`. */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-local-host',
  hostTypes: [{ name: 'local', controls: { checkConnection, noop }, validateControl }],
};
