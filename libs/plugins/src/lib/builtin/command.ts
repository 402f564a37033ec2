import { StepContext } from '@shipdeck/tasks';
import { DeploymentOperation, ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { PropertyReader } from '../properties';
import { propertyCiType } from '../property-ci-type';
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
  return {
    create: reader.string('create', true),
    modify: reader.string('modify'),
    destroy: reader.string('destroy'),
    cwd: reader.absolutePath('cwd'),
    env: reader.stringMap('env'),
    timeoutMs: reader.duration('timeout', true),
  };
}

function commandFor(operation: DeploymentOperation, props: CommandProperties): string | undefined {
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
    propertyCiType({
      name: TYPE,
      defaultOrder: 70,
      read,
      describeStep: (operation, subject) =>
        operation === 'DESTROY' && typeof subject.properties.destroy !== 'string'
          ? undefined
          : describeDeploymentStep(operation, subject),
      execute,
    }),
  ],
};
