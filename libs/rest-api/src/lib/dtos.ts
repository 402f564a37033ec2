import { IsDefined, IsOptional } from 'class-validator';
import { TASK_STATES, TASK_TYPES } from '@shipdeck/tasks';
import {
  anyString,
  ArrayOf,
  IsoDateTime,
  nonEmptyString,
  OneOf,
  PlainObject,
  RecordOf,
  Satisfies,
  stepPath,
} from './validation';

/*
 * One class per request body or query (spec §6). Every property carries explicit validators:
 * the bundled runtime has no decorator metadata, so nothing may depend on reflected types.
 * Bodies hold no nested DTOs; free-form objects (host properties, control parameters) are
 * checked to be JSON objects and handed to the service, which owns their meaning.
 * Properties without a decorator would be stripped as unknown, so each one has at least one.
 */

const REQUIRED = { message: 'is required' };

/** `PUT /hosts/{name}`. */
export class HostBody {
  /** Optional; when given it must equal the name in the path. */
  @IsOptional()
  @Satisfies(nonEmptyString)
  name?: string;

  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  type!: string;

  @IsOptional()
  @ArrayOf(nonEmptyString)
  tags?: string[];

  /** Type-specific properties (address, user… for later host types). */
  @IsOptional()
  @PlainObject()
  properties?: Record<string, unknown>;
}

/** `PUT /environments/{name}`. */
export class EnvironmentBody {
  /** Optional; when given it must equal the name in the path. */
  @IsOptional()
  @Satisfies(nonEmptyString)
  name?: string;

  @IsDefined(REQUIRED)
  @ArrayOf(nonEmptyString)
  hosts!: string[];

  @IsOptional()
  @RecordOf(anyString)
  dictionary?: Record<string, string>;
}

/** `POST /deployments` and `POST /deployments/preview`. */
export class DeploymentBody {
  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  application!: string;

  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  version!: string;

  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
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
  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  application!: string;

  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  environment!: string;
}

/** `POST /control-tasks`. */
export class ControlTaskBody {
  /** The CI the control runs on: a host name. */
  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  target!: string;

  @IsDefined(REQUIRED)
  @Satisfies(nonEmptyString)
  control!: string;

  @IsOptional()
  @PlainObject()
  parameters?: Record<string, unknown>;
}

/** `POST /tasks/{id}/schedule`. */
export class ScheduleBody {
  @IsDefined(REQUIRED)
  @IsoDateTime()
  at!: string;
}

/** Query of `GET /tasks`. */
export class TaskListQuery {
  @IsOptional()
  @OneOf([...TASK_STATES, 'UNKNOWN'])
  state?: string;

  @IsOptional()
  @OneOf(TASK_TYPES)
  type?: string;

  @IsOptional()
  @Satisfies(nonEmptyString)
  worker?: string;
}

/** Query of `GET /archive/tasks`. */
export class ArchiveQuery {
  @IsOptional()
  @IsoDateTime()
  from?: string;

  @IsOptional()
  @IsoDateTime()
  to?: string;

  @IsOptional()
  @Satisfies(nonEmptyString)
  application?: string;

  @IsOptional()
  @Satisfies(nonEmptyString)
  environment?: string;
}
