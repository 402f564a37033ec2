import { ValidationError } from '@shipdeck/errors';
import { DeploymentBody, EnvironmentBody, HostBody, ScheduleBody, TaskListQuery } from './dtos';
import { toDate, validateDto } from './validation';

function detailsOf(run: () => unknown) {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).details;
  }
  throw new Error('expected a ValidationError');
}

describe('validateDto', () => {
  it('answers a DTO instance with exactly the given fields', () => {
    const dto = validateDto(DeploymentBody, { application: 'a', version: '1', environment: 'dev' }, 'body');
    expect(dto).toBeInstanceOf(DeploymentBody);
    expect({ ...dto }).toEqual({ application: 'a', version: '1', environment: 'dev' });
  });

  it('names one detail per invalid field, nested fields dotted or indexed', () => {
    const details = detailsOf(() =>
      validateDto(EnvironmentBody, { hosts: ['a', '', 3], dictionary: { OK: 'v', BAD: 1, 'x.y': null }, extra: 1 }, 'body'),
    );
    expect(details).toEqual(
      expect.arrayContaining([
        { field: 'hosts[1]', message: 'must not be empty' },
        { field: 'hosts[2]', message: 'must be a string' },
        { field: 'dictionary.BAD', message: 'must be a string' },
        { field: 'dictionary["x.y"]', message: 'must be a string' },
        { field: 'extra', message: 'unknown field' },
      ]),
    );
    expect(details).toHaveLength(5);
  });

  it('says "is required" once for a missing field, not every rule it breaks', () => {
    expect(detailsOf(() => validateDto(HostBody, {}, 'body'))).toEqual([{ field: 'type', message: 'is required' }]);
  });

  it('names the invalid fields in the message', () => {
    try {
      validateDto(DeploymentBody, { application: 'a' }, 'request body');
    } catch (error) {
      expect((error as Error).message).toBe('invalid request body: version, environment');
    }
    expect.assertions(1);
  });
});

describe('ISO 8601 date-times', () => {
  it.each(['2030-01-31', '2030-01-31T18:00Z', '2030-01-31T18:00:00.123+02:00', '2030-01-31T18:00:00'])('accepts %s', (at) => {
    const date = toDate(validateDto(ScheduleBody, { at }, 'body').at);
    expect(Number.isNaN(date.getTime())).toBe(false);
  });

  it.each(['tomorrow', '2030-02-30', '2030-13-01', '31/01/2030', '', 'T18:00', '2030-W05', '2030-031', 12])('refuses %j', (at) => {
    expect(detailsOf(() => validateDto(ScheduleBody, { at }, 'body'))).toEqual([
      { field: 'at', message: 'must be an ISO 8601 date-time, e.g. 2030-01-31T18:00:00Z' },
    ]);
  });
});

describe('enumerations', () => {
  it('names the allowed values', () => {
    expect(detailsOf(() => validateDto(TaskListQuery, { type: 'deployment' }, 'query'))).toEqual([
      { field: 'type', message: 'must be one of DEPLOYMENT, CONTROL' },
    ]);
  });
});
