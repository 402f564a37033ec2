import { IsBoolean, IsDefined, IsIn, IsObject, IsOptional, ValidateBy } from 'class-validator';
import { TASK_STATES, TASK_TYPES } from '@shipdeck/tasks';
import {
  anyString,
  ArrayOf,
  ElementRule,
  IsIsoDateTime,
  IsOptionalIsoDateTime,
  MESSAGES,
  name,
  RecordOf,
  stepPath,
  version,
} from './validation';
import { PageQuery } from './paging';

/*
 * One class per request body or query (spec §6). Every property carries explicit validators:
 * the bundled runtime has no decorator metadata, so nothing may depend on reflected types.
 * Bodies hold no nested DTOs; free-form objects (host properties, control parameters) are
 * checked to be JSON objects and handed to the services, which own their meaning.
 * Properties without a decorator would be stripped as unknown, so each one has at least one.
 * Every name (host, environment, application, version, tag, dictionary key, worker) follows the
 * rules of spec §1 (`@shipdeck/domain` names.ts); values (dictionary values, parameters) do not.
 */

/** A value that satisfies `rule`; the rule's answer is the message. */
function Is(rule: ElementRule): PropertyDecorator {
  return ValidateBy(
    {
      name: `is ${rule.expected}`,
      validator: {
        validate: (value: unknown) => rule.check(value) === undefined,
        defaultMessage: (args) => rule.check(args?.value) ?? 'is invalid',
      },
    },
    // The rule in the metadata: the OpenAPI document's schema of the property is read from it.
    { context: { rule } },
  );
}

/** A required name. */
const IsRequiredName = (): PropertyDecorator => (target, property) => {
  IsDefined(MESSAGES.required)(target, property);
  Is(name)(target, property);
};

const TASK_STATE_FILTERS = [...TASK_STATES, 'UNKNOWN'];

/** `PUT /hosts/{name}`. */
export class HostBody {
  /** Optional; when given it must equal the name in the path. */
  @IsOptional()
  @Is(name)
  name?: string;

  @IsRequiredName()
  type!: string;

  @IsOptional()
  @ArrayOf(name, { unique: true })
  tags?: string[];

  /** Type-specific properties (address, user… for later host types). */
  @IsOptional()
  @IsObject(MESSAGES.object)
  properties?: Record<string, unknown>;
}

/** `PUT /environments/{name}`. */
export class EnvironmentBody {
  /** Optional; when given it must equal the name in the path. */
  @IsOptional()
  @Is(name)
  name?: string;

  /** Each host once: a duplicate would plan every step twice on it. */
  @IsDefined(MESSAGES.required)
  @ArrayOf(name, { unique: true })
  hosts!: string[];

  @IsOptional()
  @RecordOf(anyString, { keyRule: name })
  dictionary?: Record<string, string>;

  /** Secret entries (stored encrypted, answered as `******`); `******` keeps the stored value. */
  @IsOptional()
  @RecordOf(anyString, { keyRule: name })
  secrets?: Record<string, string>;
}

/**
 * `start` of the bodies that create a task: true starts it in the same request, as
 * `POST /tasks/{id}/start` would (that route's permission is needed too). Default false: PENDING.
 */
function StartOnCreate(): PropertyDecorator {
  return (target, key) => {
    IsOptional()(target, key);
    IsBoolean({ message: 'must be true or false' })(target, key);
  };
}

/** `POST /deployments/preview`, and what `POST /deployments` has besides `start`. */
export class DeploymentPreviewBody {
  @IsRequiredName()
  application!: string;

  @IsDefined(MESSAGES.required)
  @Is(version)
  version!: string;

  @IsRequiredName()
  environment!: string;

  @IsOptional()
  @ArrayOf(stepPath)
  skipSteps?: string[];

  @IsOptional()
  @ArrayOf(stepPath)
  pauseBefore?: string[];
}

/** `POST /deployments`. */
export class DeploymentBody extends DeploymentPreviewBody {
  @StartOnCreate()
  start?: boolean;
}

/** `POST /undeployments`. */
export class UndeploymentBody {
  @IsRequiredName()
  application!: string;

  @IsRequiredName()
  environment!: string;

  @StartOnCreate()
  start?: boolean;
}

/** `POST /control-tasks`. */
export class ControlTaskBody {
  /** The CI the control runs on: a host name. */
  @IsRequiredName()
  target!: string;

  @IsRequiredName()
  control!: string;

  @IsOptional()
  @IsObject(MESSAGES.object)
  parameters?: Record<string, unknown>;

  @StartOnCreate()
  start?: boolean;
}

/** `POST /tasks/{id}/schedule`. */
export class ScheduleBody {
  /** A calendar date-time that `Date` reads, on a day that exists. */
  @IsDefined(MESSAGES.required)
  @IsIsoDateTime()
  at!: string;
}

/** Query of `GET /tasks`. */
export class TaskListQuery extends PageQuery {
  @IsOptional()
  @IsIn(TASK_STATE_FILTERS, MESSAGES.oneOf(TASK_STATE_FILTERS))
  state?: string;

  @IsOptional()
  @IsIn([...TASK_TYPES], MESSAGES.oneOf(TASK_TYPES))
  type?: string;

  @IsOptional()
  @Is(name)
  worker?: string;
}

/** Query of `GET /archive/tasks`. */
export class ArchiveQuery extends PageQuery {
  @IsOptionalIsoDateTime()
  from?: string;

  @IsOptionalIsoDateTime()
  to?: string;

  @IsOptional()
  @Is(name)
  application?: string;

  @IsOptional()
  @Is(name)
  environment?: string;
}
