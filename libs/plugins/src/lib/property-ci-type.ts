import { StepContext } from '@shipdeck/tasks';
import { CiTypeDefinition, describeDeploymentStep } from './plugin';
import { PropertyReader, readStepProperties, validateProperties } from './properties';

/** What {@link propertyCiType} needs to know of a CI type whose properties a {@link PropertyReader} reads. */
export interface PropertyCiTypeOptions<P> {
  name: string;
  defaultOrder: number;
  /** Reads the typed properties; one function for validation and execution. Unknown properties are refused after it. */
  read(reader: PropertyReader): P;
  /** Default: {@link describeDeploymentStep} for every operation. */
  describeStep?: CiTypeDefinition['describeStep'];
  /** Runs one step with its properties read (a bad property has rejected the step before). */
  execute(ctx: StepContext, properties: P): Promise<void>;
}

/**
 * A CI type whose `validate` (manifest, planner) and `execute` read the properties with the same
 * `read` function, so that what validation accepts is what execution gets.
 */
export function propertyCiType<P>(options: PropertyCiTypeOptions<P>): CiTypeDefinition {
  const read = (reader: PropertyReader): P => {
    const properties = options.read(reader);
    reader.rejectUnknown(options.name);
    return properties;
  };
  return {
    name: options.name,
    defaultOrder: options.defaultOrder,
    validate: (properties, fieldPrefix) => validateProperties(properties, fieldPrefix, read),
    describeStep: options.describeStep ?? describeDeploymentStep,
    // async: a bad property rejects the step like any other failure, never throws at its caller.
    execute: async (ctx) => options.execute(ctx, readStepProperties(options.name, ctx.step.properties, read)),
  };
}
