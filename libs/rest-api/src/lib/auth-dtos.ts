import { IsBoolean, IsIn, IsOptional, Matches, MaxLength, MinLength } from 'class-validator';
import { AUDIT_OUTCOMES, MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH, ROLES } from '@shipdeck/auth';
import { ArrayOf, IsOptionalIsoDateTime, IsRequiredString, MESSAGES, nonEmptyString } from './validation';

/** User and token names: the spec's name rule (§1). */
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
const NAME_RULE = { message: 'must be 1-128 letters, digits, ".", "_" or "-", starting with a letter or digit' };

/** `POST /auth/login`. */
export class LoginBody {
  @IsRequiredString()
  @MaxLength(128, { message: 'must be at most 128 characters' })
  username!: string;

  @IsRequiredString()
  @MaxLength(MAX_PASSWORD_LENGTH, { message: `must be at most ${MAX_PASSWORD_LENGTH} characters` })
  password!: string;
}

/** `POST /users`. */
export class UserBody {
  @IsRequiredString()
  @Matches(NAME, NAME_RULE)
  name!: string;

  @IsRequiredString()
  @MinLength(MIN_PASSWORD_LENGTH, { message: `must be at least ${MIN_PASSWORD_LENGTH} characters` })
  @MaxLength(MAX_PASSWORD_LENGTH, { message: `must be at most ${MAX_PASSWORD_LENGTH} characters` })
  password!: string;

  @IsIn(ROLES, MESSAGES.oneOf(ROLES))
  role!: string;

  /** Deployers only: the environments they may deploy to; omitted for all. */
  @IsOptional()
  @ArrayOf(nonEmptyString)
  environments?: string[];

  @IsOptional()
  @IsBoolean({ message: 'must be true or false' })
  disabled?: boolean;
}

/** `POST /tokens`. */
export class TokenBody {
  @IsRequiredString()
  @Matches(NAME, NAME_RULE)
  name!: string;

  @IsOptionalIsoDateTime()
  expiresAt?: string;
}

/** `GET /audit`: newest first, paged by `cursor` (the `nextCursor` of the previous page). */
export class AuditListQuery {
  @IsOptional()
  @Matches(/^[1-9]\d{0,3}$/, { message: 'must be an integer from 1 to 1000' })
  limit?: string;

  @IsOptional()
  @Matches(/^\d{1,15}$/, { message: 'must be the nextCursor of a previous page' })
  cursor?: string;

  @IsOptional()
  @Matches(NAME, NAME_RULE)
  user?: string;

  @IsOptional()
  @MaxLength(256, { message: 'must be at most 256 characters' })
  action?: string;

  @IsOptional()
  @IsIn(AUDIT_OUTCOMES, MESSAGES.oneOf(AUDIT_OUTCOMES))
  outcome?: string;

  @IsOptionalIsoDateTime()
  from?: string;

  @IsOptionalIsoDateTime()
  to?: string;
}

/** Bounds of {@link AuditListQuery.limit}. */
export const AUDIT_PAGE = { default: 100, max: 1000 } as const;
