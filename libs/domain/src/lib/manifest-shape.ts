import {
  ArrayNotEmpty,
  IsArray,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Matches,
  Max,
  Min,
  ValidationArguments,
} from 'class-validator';

/*
 * The common shape of a manifest, checked with class-validator. The parser validates with
 * `stopAtFirstError`, and class-validator runs a property's decorators from the bottom up, so the
 * most basic check (is it a string?) is written last.
 */

const SAFE_NAME = /^[A-Za-z0-9._-]+$/;
const SAFE_VERSION = /^[A-Za-z0-9._+-]+$/;

function versionTypeMessage(args: ValidationArguments): string {
  // YAML reads `version: 1.0` as the number 1: say so, since the manifest looks right to its author.
  return typeof args.value === 'number'
    ? `must be a string, got the number ${args.value}; quote it in YAML, e.g. version: "1.0"`
    : 'must be a string';
}

/** The top level of a manifest. Fields are `unknown` because the instance holds raw input. */
export class ManifestShape {
  @Matches(SAFE_NAME, { message: 'may contain only letters, digits, ".", "_" and "-"' })
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  application: unknown;

  @Matches(SAFE_VERSION, { message: 'may contain only letters, digits, ".", "_", "+" and "-"' })
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: versionTypeMessage })
  version: unknown;

  @ArrayNotEmpty({ message: 'must contain at least one deployable' })
  @IsArray({ message: 'must be a list of deployables' })
  deployables: unknown;
}

/** The fields of a deployable that every CI type shares; the others belong to the type. */
export class DeployableShape {
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  name: unknown;

  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  type: unknown;

  @IsString({ each: true, message: 'must be a list of strings' })
  @IsArray({ message: 'must be a list of strings' })
  @IsOptional()
  tags: unknown;

  @Max(100, { message: 'must be at most 100' })
  @Min(0, { message: 'must be at least 0' })
  @IsInt({ message: 'must be an integer from 0 to 100' })
  @IsOptional()
  order: unknown;
}

/** Fields of a deployable that are not passed to its CI type as properties. */
export const COMMON_DEPLOYABLE_FIELDS: readonly string[] = ['name', 'type', 'tags', 'order'];
