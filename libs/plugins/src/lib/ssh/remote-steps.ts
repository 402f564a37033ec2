import { chmod } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { FieldError } from '@shipdeck/errors';
import { StepContext } from '@shipdeck/tasks';
import { CommandScripts, commandFor } from '../builtin/command';
import { CiTypeDefinition, DeploymentOperation, ShipdeckPlugin } from '../plugin';
import { PropertyReader } from '../properties';
import { sshConnections } from './connection-pool';
import { SshConnection } from './connection';
import { SSH_HOST_TYPE, SshHostConfig, sshHostConfig } from './host-config';
import { removeRemoteFile, writeRemoteFile } from './remote-file';
import { remoteGet } from './remote-http';
import { runRemoteShell, stepMarker } from './remote-shell';

const OCTAL_MODE = /^0?[0-7]{3,4}$/;
const OWNER = /^[a-z_][a-z0-9_.-]*\$?(:[a-z_][a-z0-9_.-]*\$?)?$/i;
const MAX_RETRY_DELAY_MS = 30_000;

/** Milliseconds of a duration property the type's validation has already accepted. */
function durationMs(value: unknown): number | undefined {
  return new PropertyReader({ value }, '', false).duration('value', false);
}

/** Whether the step runs against an `ssh` host. */
export function onSshHost(ctx: StepContext): boolean {
  return ctx.step.target.type === SSH_HOST_TYPE;
}

/**
 * Borrows a connection to the step's host from the worker's pool for the duration of `work`.
 * A connection lost during `work` is closed instead of going back to the pool.
 */
export async function withSshConnection<T>(
  ctx: StepContext,
  work: (connection: SshConnection, config: SshHostConfig) => Promise<T>,
): Promise<T> {
  const hostName = ctx.step.target.name;
  const config = sshHostConfig(hostName, ctx.step.target.properties);
  const lease = await sshConnections.lease({ hostName, config, workDir: ctx.workDir, signal: ctx.signal, log: (text) => ctx.log(text) });
  try {
    return await work(lease.connection, config);
  } finally {
    lease.release();
  }
}

/** The step's properties without `names`, for a built-in type that does not know them. */
function without(properties: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(properties).filter(([name]) => !names.includes(name)));
}

function withProperties(ctx: StepContext, properties: Record<string, unknown>): StepContext {
  return { ...ctx, step: { ...ctx.step, properties } };
}

/** Rejects the step with every problem the type's own validation finds; values are not repeated. */
function assertValid(type: CiTypeDefinition, properties: Record<string, unknown>, extra: FieldError[] = []): void {
  const errors = [...type.validate(properties, ''), ...extra];
  if (errors.length > 0) throw new Error(`invalid ${type.name} properties: ${errors.map((e) => `${e.field} ${e.message}`).join('; ')}`);
}

// ---- cmd.Command

interface CommandProperties extends CommandScripts {
  timeout?: string | number;
}

function remoteCommand(base: CiTypeDefinition): CiTypeDefinition {
  return {
    ...base,
    execute: async (ctx) => {
      if (!onSshHost(ctx)) return base.execute(ctx);
      assertValid(base, ctx.step.properties);
      const props = ctx.step.properties as unknown as CommandProperties;
      const operation = ctx.step.operation as DeploymentOperation;
      const command = commandFor(operation, props);
      if (command === undefined) {
        ctx.log(`nothing to run for ${operation}\n`);
        return;
      }
      await withSshConnection(ctx, async (connection, config) => {
        const as = config.sudo === undefined ? config.username : `${config.sudo} (sudo from ${config.username})`;
        ctx.log(`$ ${command}\n(on ${ctx.step.target.name} as ${as}, in ${props.cwd ?? 'the home directory'})\n`);
        await runRemoteShell(connection, {
          command,
          cwd: props.cwd,
          env: props.env,
          sudo: config.sudo,
          marker: stepMarker(ctx.taskId, ctx.step.path),
          timeoutMs: props.timeout === undefined ? config.commandTimeoutMs : durationMs(props.timeout),
          signal: ctx.signal,
          log: (text) => ctx.log(text),
        });
      });
      ctx.log('command succeeded\n');
    },
  };
}

// ---- file.File

const FILE_EXTRAS = ['mode', 'owner'] as const;

function fileExtras(properties: Record<string, unknown>, fieldPrefix: string): { mode?: number; owner?: string; errors: FieldError[] } {
  const field = (name: string) => (fieldPrefix ? `${fieldPrefix}.${name}` : name);
  const errors: FieldError[] = [];
  let mode: number | undefined;
  const rawMode = properties.mode;
  if (rawMode !== undefined && rawMode !== null) {
    const text = typeof rawMode === 'number' ? rawMode.toString(8) : rawMode;
    // YAML reads 0640 as the number 416 (octal) or 640 (decimal) depending on the parser: ask for a string.
    if (typeof rawMode !== 'string' || !OCTAL_MODE.test(rawMode)) {
      errors.push({ field: field('mode'), message: `must be an octal mode as a string, like "0640", got ${JSON.stringify(text)}` });
    } else mode = parseInt(rawMode, 8);
  }
  const owner = properties.owner;
  if (owner !== undefined && owner !== null && (typeof owner !== 'string' || !OWNER.test(owner))) {
    errors.push({ field: field('owner'), message: 'must be a user name or user:group' });
  }
  return { mode, owner: typeof owner === 'string' ? owner : undefined, errors };
}

function remoteFile(base: CiTypeDefinition): CiTypeDefinition {
  return {
    ...base,
    validate: (properties, fieldPrefix) => [
      ...base.validate(without(properties, FILE_EXTRAS), fieldPrefix),
      ...fileExtras(properties, fieldPrefix).errors,
    ],
    execute: async (ctx) => {
      const { mode, owner, errors } = fileExtras(ctx.step.properties, '');
      const own = without(ctx.step.properties, FILE_EXTRAS);
      if (!onSshHost(ctx)) {
        if (owner !== undefined) throw new Error('file.File owner is supported on ssh hosts only');
        assertValid(base, own, errors);
        await base.execute(withProperties(ctx, own));
        if (mode !== undefined && ctx.step.operation !== 'DESTROY') {
          await chmod(String(own.targetPath), mode);
          ctx.log(`set mode ${mode.toString(8).padStart(4, '0')}\n`);
        }
        return;
      }
      assertValid(base, own, errors);
      ctx.signal.throwIfAborted();
      const targetPath = String(own.targetPath);
      await withSshConnection(ctx, (connection, config) => {
        const rules = { allowedRoots: config.allowedRoots, sudo: config.sudo };
        const log = (text: string) => ctx.log(text);
        if (ctx.step.operation === 'DESTROY') return removeRemoteFile(connection, targetPath, rules, log);
        return writeRemoteFile(connection, { targetPath, content: String(own.content), mode, owner }, rules, log);
      });
    },
  };
}

// ---- http.Check

const FROM_VALUES = ['worker', 'target'] as const;

function fromProblems(properties: Record<string, unknown>, fieldPrefix: string): FieldError[] {
  const from = properties.from;
  if (from === undefined || from === null || (FROM_VALUES as readonly unknown[]).includes(from)) return [];
  return [{ field: fieldPrefix ? `${fieldPrefix}.from` : 'from', message: `must be one of ${FROM_VALUES.join(', ')}` }];
}

interface CheckProperties {
  url: string;
  expectStatus?: number | string;
  retries?: number | string;
  retryDelay?: number | string;
  timeout?: number | string;
}

function remoteHttpCheck(base: CiTypeDefinition): CiTypeDefinition {
  return {
    ...base,
    validate: (properties, fieldPrefix) => [
      ...base.validate(without(properties, ['from']), fieldPrefix),
      ...fromProblems(properties, fieldPrefix),
    ],
    execute: async (ctx) => {
      const own = without(ctx.step.properties, ['from']);
      assertValid(base, own, fromProblems(ctx.step.properties, ''));
      // On any other host type the worker is where the check runs; `target` only changes ssh hosts.
      if (ctx.step.properties.from !== 'target' || !onSshHost(ctx)) return base.execute(withProperties(ctx, own));
      if (ctx.step.operation === 'DESTROY') return;
      const props = own as unknown as CheckProperties;
      const expectStatus = Number(props.expectStatus ?? 200);
      const attempts = Number(props.retries ?? 5) + 1;
      let delayMs = props.retryDelay === undefined ? 1_000 : (durationMs(props.retryDelay) as number);
      const timeoutMs = props.timeout === undefined ? 10_000 : (durationMs(props.timeout) as number);
      await withSshConnection(ctx, async (connection) => {
        let last = '';
        for (let attempt = 1; attempt <= attempts; attempt++) {
          ctx.signal.throwIfAborted();
          last = await remoteGet(connection, {
            url: props.url,
            timeoutMs,
            manualRedirect: expectStatus >= 300 && expectStatus < 400,
            signal: ctx.signal,
          });
          ctx.log(`attempt ${attempt}/${attempts} from ${ctx.step.target.name}: GET ${props.url} → ${last}\n`);
          if (last === String(expectStatus)) return;
          if (attempt < attempts) {
            await delay(delayMs, undefined, { signal: ctx.signal });
            delayMs = Math.min(delayMs * 2, MAX_RETRY_DELAY_MS);
          }
        }
        throw new Error(`${props.url} did not answer ${expectStatus} from ${ctx.step.target.name} in ${attempts} attempt(s); last: ${last}`);
      });
    },
  };
}

const REMOTE_VARIANTS: Record<string, (base: CiTypeDefinition) => CiTypeDefinition> = {
  'cmd.Command': remoteCommand,
  'file.File': remoteFile,
  'http.Check': remoteHttpCheck,
};

/**
 * A built-in plugin whose step types also run on `ssh` hosts: each type the SSH support knows is
 * wrapped so that a step on an `ssh` host runs remotely and every other step runs as before.
 */
export function withSshTargets(plugin: ShipdeckPlugin): ShipdeckPlugin {
  if (!plugin.ciTypes) return plugin;
  return { ...plugin, ciTypes: plugin.ciTypes.map((type) => REMOTE_VARIANTS[type.name]?.(type) ?? type) };
}
