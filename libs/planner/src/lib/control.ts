import { Host } from '@shipdeck/domain';
import { ValidationError } from '@shipdeck/errors';
import { PluginRegistry, hostStepType } from '@shipdeck/plugins';
import { PhaseSpec } from '@shipdeck/tasks';

/** What {@link planControl} needs. */
export interface ControlPlanInput {
  host: Host;
  /** A control of the host's type, e.g. `checkConnection`. */
  control: string;
  parameters: Record<string, unknown>;
  types: PluginRegistry;
}

/**
 * Plans a control task: one phase `Control CONTROL on HOST` with one block of one step, whose
 * ciType is `host.<host type>`, operation the control and properties the parameters.
 *
 * @throws ValidationError code UNKNOWN_CI_TYPE when the host's type is not registered, with
 *   field `control` when the host type has no such control, or with fields `parameters.*` when
 *   the host type's `validateControl` refuses the parameters.
 */
export function planControl(input: ControlPlanInput): PhaseSpec[] {
  const { host, control, parameters, types } = input;
  const hostType = types.hostType(host.type);
  if (!Object.hasOwn(hostType.controls, control)) {
    const available = Object.keys(hostType.controls).sort().join(', ') || 'none';
    throw new ValidationError(`host ${host.name} (type ${host.type}) has no control ${JSON.stringify(control)}`, [
      { field: 'control', message: `unknown control ${JSON.stringify(control)} for host type ${host.type} (available: ${available})` },
    ]);
  }
  const problems = hostType.validateControl?.(control, parameters, 'parameters') ?? [];
  if (problems.length > 0) {
    throw new ValidationError(`invalid parameters of control ${control} on host ${host.name}`, problems);
  }
  return [
    {
      description: `Control ${control} on ${host.name}`,
      blocks: [
        {
          description: control,
          parallel: false,
          steps: [
            {
              description: `${control} on ${host.name}`,
              order: 50,
              ciType: hostStepType(host.type),
              operation: control,
              target: { name: host.name, type: host.type, properties: host.properties },
              properties: parameters,
            },
          ],
        },
      ],
    },
  ];
}
