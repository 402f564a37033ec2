import { StepContext } from '@shipdeck/tasks';
import { DeploymentOperation, ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { PLACEHOLDER_PATTERN, PlaceholderLookup, substitutePlaceholders } from '../placeholders';
import { PropertyReader } from '../properties';
import { propertyCiType } from '../property-ci-type';
import { cappedLog, runShell, shellVariableReference } from '../shell';

const TYPE = 'cmd.Command';

/** The properties that are shell text: their placeholders become variable references. */
const SHELL_PROPERTIES = ['create', 'modify', 'destroy'] as const;

/** Prefix of the environment variables that carry placeholder values into shell text. */
export const PLACEHOLDER_VARIABLE_PREFIX = 'SHIPDECK_VALUE_';

/** A command without a `timeout` is killed after this long, so a hung command cannot hold a task forever. */
export const DEFAULT_COMMAND_TIMEOUT_MS = 60 * 60 * 1000;

/** Output of one command kept in its step log; the rest is counted and noted. */
export const MAX_COMMAND_LOG_BYTES = 1024 * 1024;

/** The shell text of a `cmd.Command` per operation, where it runs and its environment (local or over SSH). */
export interface CommandScripts {
  create: string;
  modify?: string;
  destroy?: string;
  cwd?: string;
  env?: Record<string, string>;
}

interface CommandProperties extends CommandScripts {
  timeoutMs?: number;
}

function read(reader: PropertyReader): CommandProperties {
  return {
    create: reader.string('create', true),
    modify: reader.string('modify'),
    destroy: reader.string('destroy'),
    cwd: reader.absolutePath('cwd'),
    env: reader.stringMap('env'),
    timeoutMs: reader.duration('timeout', true),
  };
}

/** The shell text to run for `operation`: MODIFY falls back to `create`; undefined when there is none. */
export function commandFor(operation: DeploymentOperation, props: CommandScripts): string | undefined {
  if (operation === 'CREATE') return props.create;
  if (operation === 'MODIFY') return props.modify ?? props.create;
  return props.destroy;
}

async function execute(ctx: StepContext, props: CommandProperties): Promise<void> {
  const operation = ctx.step.operation as DeploymentOperation;
  const command = commandFor(operation, props);
  if (command === undefined) {
    ctx.log(`nothing to run for ${operation}\n`);
    return;
  }
  const cwd = props.cwd ?? ctx.workDir;
  ctx.log(`$ ${command}\n(in ${cwd})\n`);
  const output = cappedLog((text) => ctx.log(text), MAX_COMMAND_LOG_BYTES);
  try {
    await runShell({
      command,
      cwd,
      env: props.env,
      timeoutMs: props.timeoutMs ?? DEFAULT_COMMAND_TIMEOUT_MS,
      signal: ctx.signal,
      log: (text) => output.write(text),
    });
  } finally {
    output.end();
  }
  ctx.log('command succeeded\n');
}

/**
 * Placeholders in shell text never become code: `{{KEY}}` in `create`, `modify` or `destroy` is
 * written as a reference to the variable `SHIPDECK_VALUE_KEY` (quoted for where it stands) and
 * the value goes into `env` under that name. Other properties get plain substitution.
 */
function resolvePlaceholders(properties: Record<string, unknown>, lookup: PlaceholderLookup, fieldPrefix: string): Record<string, unknown> {
  const values: Record<string, string> = {};
  const resolved: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(properties)) {
    const field = `${fieldPrefix}.${key}`;
    if (typeof value === 'string' && (SHELL_PROPERTIES as readonly string[]).includes(key)) {
      resolved[key] = value.replace(PLACEHOLDER_PATTERN, (written, name: string, offset: number) => {
        const placeholderValue = lookup(name, field);
        if (placeholderValue === undefined) return written;
        const variable = placeholderVariable(name);
        values[variable] = placeholderValue;
        return shellVariableReference(variable, value.slice(0, offset));
      });
    } else {
      resolved[key] = substitutePlaceholders(value, lookup, field);
    }
  }
  if (Object.keys(values).length === 0) return resolved;
  const env = resolved['env'];
  // A malformed env stays as it is, for validation to name; it cannot carry the values then.
  if (env !== undefined && (typeof env !== 'object' || env === null || Array.isArray(env))) return resolved;
  return { ...resolved, env: { ...(env as Record<string, unknown> | undefined), ...values } };
}

/**
 * The variable of a placeholder key: `SHIPDECK_VALUE_APP_HOME` for `APP_HOME`; a key with
 * characters a variable name cannot hold (`db.url`) is hex-encoded behind another prefix
 * (`SHIPDECK_VALUEX_64622e75726c`), so that two keys never share a variable.
 */
export function placeholderVariable(key: string): string {
  if (/^[A-Za-z0-9_]+$/.test(key)) return PLACEHOLDER_VARIABLE_PREFIX + key;
  return `${PLACEHOLDER_VARIABLE_PREFIX.slice(0, -1)}X_${Buffer.from(key, 'utf8').toString('hex')}`;
}


/**
 * `cmd.Command`: runs a shell command on the host. `create` (required), `modify` (defaults to
 * `create`), `destroy` (no DESTROY step without it), `cwd` (absolute; the worker's work directory
 * by default), `env` (string map added to the minimal step environment), `timeout` (`300s`, `5m`,
 * `2h` or seconds; 1 hour by default). Placeholder values reach the shell text as variables, never
 * as code; at most 1 MiB of output is logged per command. Default order 70.
 */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-cmd',
  ciTypes: [
    {
      ...propertyCiType({
        name: TYPE,
        defaultOrder: 70,
        read,
        describeStep: (operation, subject) =>
          operation === 'DESTROY' && typeof subject.properties.destroy !== 'string'
            ? undefined
            : describeDeploymentStep(operation, subject),
        execute,
      }),
      resolvePlaceholders,
    },
  ],
};
