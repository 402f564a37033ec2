import { StepContext } from '@shipdeck/tasks';
import { DeploymentOperation, ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { PropertyReader, readStepProperties, validateProperties } from '../properties';
import { runShell } from '../shell';

const TYPE = 'cmd.Command';

interface CommandProperties {
  create: string;
  modify?: string;
  destroy?: string;
  cwd?: string;
  env?: Record<string, string>;
  timeoutMs?: number;
}

function read(reader: PropertyReader): CommandProperties {
  const props: CommandProperties = {
    create: reader.string('create', true),
    modify: reader.string('modify'),
    destroy: reader.string('destroy'),
    cwd: reader.absolutePath('cwd'),
    env: reader.stringMap('env'),
    timeoutMs: reader.duration('timeout', true),
  };
  reader.rejectUnknown(TYPE);
  return props;
}

function commandFor(operation: DeploymentOperation, props: CommandProperties): string | undefined {
  if (operation === 'CREATE') return props.create;
  if (operation === 'MODIFY') return props.modify ?? props.create;
  return props.destroy;
}

async function execute(ctx: StepContext): Promise<void> {
  const props = readStepProperties(TYPE, ctx.step.properties, read);
  const operation = ctx.step.operation as DeploymentOperation;
  const command = commandFor(operation, props);
  if (command === undefined) {
    ctx.log(`nothing to run for ${operation}\n`);
    return;
  }
  const cwd = props.cwd ?? ctx.workDir;
  ctx.log(`$ ${command}\n(in ${cwd})\n`);
  await runShell({ command, cwd, env: props.env, timeoutMs: props.timeoutMs, signal: ctx.signal, log: (text) => ctx.log(text) });
  ctx.log('command succeeded\n');
}

/**
 * `cmd.Command`: runs a shell command on the host. `create` (required), `modify` (defaults to
 * `create`), `destroy` (no DESTROY step without it), `cwd` (absolute; the worker's work directory
 * by default), `env` (string map added to the worker's environment), `timeout` (`300s`, `5m`, `2h`
 * or seconds; none by default). Default order 70.
 */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-cmd',
  ciTypes: [
    {
      name: TYPE,
      defaultOrder: 70,
      validate: (properties, fieldPrefix) => validateProperties(properties, fieldPrefix, read),
      describeStep: (operation, subject) =>
        operation === 'DESTROY' && typeof subject.properties.destroy !== 'string'
          ? undefined
          : describeDeploymentStep(operation, subject),
      execute,
    },
  ],
};
