import { ErrorCode, ValidationError } from '@shipdeck/errors';
import { createRegistry } from '@shipdeck/plugins';
import { buildPlan } from '@shipdeck/tasks';
import { planControl } from './control';

const types = createRegistry();
const host = { name: 'local-1', type: 'local', tags: ['web'], properties: { note: 'x' } };

function thrown(fn: () => unknown): ValidationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error('expected a ValidationError');
}

describe('planControl', () => {
  it('plans one phase, one block, one host.<type> step whose operation is the control', () => {
    const phases = planControl({ host, control: 'checkConnection', parameters: { verbose: true }, types });
    expect(phases).toEqual([
      {
        description: 'Control checkConnection on local-1',
        blocks: [
          {
            description: 'checkConnection',
            parallel: false,
            steps: [
              {
                description: 'checkConnection on local-1',
                order: 50,
                ciType: 'host.local',
                operation: 'checkConnection',
                target: { name: 'local-1', type: 'local', properties: { note: 'x' } },
                properties: { verbose: true },
              },
            ],
          },
        ],
      },
    ]);
    expect(buildPlan(phases).phases[0].blocks[0].steps[0].path).toBe('1-1-1');
    expect(types.executorFor(phases[0].blocks[0].steps[0].ciType)).toBeDefined();
  });

  it('refuses a control the host type does not have, on field control', () => {
    const error = thrown(() => planControl({ host, control: 'reboot', parameters: {}, types }));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details).toEqual([
      { field: 'control', message: 'unknown control "reboot" for host type local (available: checkConnection, noop)' },
    ]);
    expect(thrown(() => planControl({ host, control: 'constructor', parameters: {}, types })).details[0].field).toBe('control');
  });

  it("refuses parameters the host type's validateControl refuses, one detail per field", () => {
    const error = thrown(() => planControl({ host, control: 'noop', parameters: { sleepMs: -1, colour: 'red' }, types }));
    expect(error.code).toBe(ErrorCode.VALIDATION_FAILED);
    expect(error.details.map((d) => d.field)).toEqual(['parameters.sleepMs', 'parameters.colour']);
    expect(planControl({ host, control: 'noop', parameters: { sleepMs: 200 }, types })[0].blocks[0].steps[0].properties).toEqual({ sleepMs: 200 });
  });

  it('refuses a host whose type is not registered', () => {
    const error = thrown(() => planControl({ host: { ...host, type: 'winrm' }, control: 'checkConnection', parameters: {}, types }));
    expect(error.code).toBe(ErrorCode.UNKNOWN_CI_TYPE);
  });
});
