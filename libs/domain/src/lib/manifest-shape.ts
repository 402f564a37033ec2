import {
  ArrayNotEmpty,
  IsArray,
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  Max,
  Min,
  ValidateBy,
  ValidationArguments,
} from 'class-validator';
import { NameKind, nameProblem } from './names';

/*
 * The common shape of a manifest, checked with class-validator. The parser validates with
 * `stopAtFirstError`, and class-validator runs a property's decorators from the bottom up, so the
 * most basic check (is it a string?) is written last.
 */

/** A name (or version) by the rules of names.ts; the message says what is wrong with it. */
function IsName(kind: NameKind = 'name'): PropertyDecorator {
  return ValidateBy({
    name: kind === 'version' ? 'isVersion' : 'isName',
    validator: {
      validate: (value: unknown) => nameProblem(value, kind) === undefined,
      defaultMessage: (args?: ValidationArguments) => nameProblem(args?.value, kind) ?? 'is invalid',
    },
  });
}

/** Each element of a list is a name. */
function EachName(): PropertyDecorator {
  return ValidateBy({
    name: 'eachName',
    validator: {
      validate: (value: unknown) => Array.isArray(value) && value.every((v) => nameProblem(v) === undefined),
      defaultMessage: (args?: ValidationArguments) => {
        const list = Array.isArray(args?.value) ? (args.value as unknown[]) : [];
        const index = list.findIndex((v) => nameProblem(v) !== undefined);
        return `element ${index} ${nameProblem(list[index]) ?? 'is invalid'}`;
      },
    },
  });
}

function versionTypeMessage(args: ValidationArguments): string {
  // YAML reads `version: 1.0` as the number 1: say so, since the manifest looks right to its author.
  return typeof args.value === 'number'
    ? `must be a string, got the number ${args.value}; quote it in YAML, e.g. version: "1.0"`
    : 'must be a string';
}

/** The top level of a manifest. Fields are `unknown` because the instance holds raw input. */
export class ManifestShape {
  @IsName()
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  application: unknown;

  @IsName('version')
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: versionTypeMessage })
  version: unknown;

  @ArrayNotEmpty({ message: 'must contain at least one deployable' })
  @IsArray({ message: 'must be a list of deployables' })
  deployables: unknown;
}

/** The fields of a deployable that every CI type shares; the others belong to the type. */
export class DeployableShape {
  @IsName()
  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  name: unknown;

  @IsNotEmpty({ message: 'must not be empty' })
  @IsString({ message: 'must be a string' })
  type: unknown;

  @EachName()
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
