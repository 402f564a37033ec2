import { IsDefined, IsIn, IsObject, IsOptional, Matches } from 'class-validator';
import { TASK_STATES, TASK_TYPES } from '@shipdeck/tasks';
import {
  anyString,
  ArrayOf,
  IsIsoDateTime,
  IsRequiredString,
  MESSAGES,
  NON_BLANK,
  nonEmptyString,
  RecordOf,
  stepPath,
} from './validation';

/*
 * One class per request body or query (spec §6). Every property carries explicit validators:
 * the bundled runtime has no decorator metadata, so nothing may depend on reflected types.
 * Bodies hold no nested DTOs; free-form objects (host properties, control parameters) are
 * checked to be JSON objects and handed to the services, which own their meaning.
 * Properties without a decorator would be stripped as unknown, so each one has at least one.
 */

const TASK_STATE_FILTERS = [...TASK_STATES, 'UNKNOWN'];

/** `PUT /hosts/{name}`. */
export class HostBody {
  /** Optional; when given it must equal the name in the path. */
  @IsOptional()
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  name?: string;

  @IsRequiredString()
  type!: string;

  @IsOptional()
  @ArrayOf(nonEmptyString)
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
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  name?: string;

  @IsDefined(MESSAGES.required)
  @ArrayOf(nonEmptyString)
  hosts!: string[];

  @IsOptional()
  @RecordOf(anyString)
  dictionary?: Record<string, string>;
}

/** `POST /deployments` and `POST /deployments/preview`. */
export class DeploymentBody {
  @IsRequiredString()
  application!: string;

  @IsRequiredString()
  version!: string;

  @IsRequiredString()
  environment!: string;

  @IsOptional()
  @ArrayOf(stepPath)
  skipSteps?: string[];

  @IsOptional()
  @ArrayOf(stepPath)
  pauseBefore?: string[];
}

/** `POST /undeployments`. */
export class UndeploymentBody {
  @IsRequiredString()
  application!: string;

  @IsRequiredString()
  environment!: string;
}

/** `POST /control-tasks`. */
export class ControlTaskBody {
  /** The CI the control runs on: a host name. */
  @IsRequiredString()
  target!: string;

  @IsRequiredString()
  control!: string;

  @IsOptional()
  @IsObject(MESSAGES.object)
  parameters?: Record<string, unknown>;
}

/** `POST /tasks/{id}/schedule`. */
export class ScheduleBody {
  /** A calendar date-time that `Date` reads, on a day that exists. */
  @IsDefined(MESSAGES.required)
  @IsIsoDateTime()
  at!: string;
}

/** Query of `GET /tasks`. */
export class TaskListQuery {
  @IsOptional()
  @IsIn(TASK_STATE_FILTERS, MESSAGES.oneOf(TASK_STATE_FILTERS))
  state?: string;

  @IsOptional()
  @IsIn([...TASK_TYPES], MESSAGES.oneOf(TASK_TYPES))
  type?: string;

  @IsOptional()
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  worker?: string;
}

/** Query of `GET /archive/tasks`. */
export class ArchiveQuery {
  @IsOptional()
  @IsIsoDateTime()
  from?: string;

  @IsOptional()
  @IsIsoDateTime()
  to?: string;

  @IsOptional()
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  application?: string;

  @IsOptional()
  @Matches(NON_BLANK, MESSAGES.nonEmptyString)
  environment?: string;
}
