// Loads reflect-metadata before the DTOs, so that decorator metadata is emitted here as under
// ts-node or a metadata-emitting build. The production bundle (esbuild) emits none, which is
// what every other spec sees; validation must answer the same in both worlds.
import 'reflect-metadata';
import { DeploymentBody, EnvironmentBody } from './dtos';
import { validateDto } from './validation';

const fieldsOf = (run: () => unknown): string[] => {
  try {
    run();
    return [];
  } catch (error) {
    return (error as { details: { field: string }[] }).details.map((d) => d.field).sort();
  }
};

it('emits metadata in this file', () => {
  expect(Reflect.getMetadata('design:type', DeploymentBody.prototype, 'skipSteps')).toBe(Array);
});

it('validates without converting types through the metadata', () => {
  expect(fieldsOf(() => validateDto(DeploymentBody, { application: 5, version: '1', environment: 'dev', skipSteps: '1' }, 'b'))).toEqual([
    'application',
    'skipSteps',
  ]);
  expect(fieldsOf(() => validateDto(EnvironmentBody, { hosts: ['a', 2], dictionary: { A: 1 } }, 'b'))).toEqual([
    'dictionary.A',
    'hosts[1]',
  ]);
  const dto = validateDto(DeploymentBody, { application: 'a', version: '1', environment: 'dev', skipSteps: ['1-2'] }, 'b');
  expect(dto.skipSteps).toEqual(['1-2']);
});
