/**
 * Roles, permissions and the one decision function over them. Pure: no I/O, no clock.
 */

import { AUTH_ROLES } from '@shipdeck/persistence';

/** The roles a user can have, least to most powerful (stored as such by persistence). */
export const ROLES = AUTH_ROLES;
export type Role = (typeof ROLES)[number];

/**
 * Everything a route can require. Routes name one of these; the roles below decide who holds it.
 *
 * - `read`: every read except secrets (tasks, packages, infrastructure without secret values…).
 * - `read:secrets`: secret values (e.g. passwords in host properties or dictionaries).
 * - `package:import`: import a package.
 * - `deploy`: deploy and undeploy (narrowed per environment for deployers).
 * - `task:operate`: start, stop, abort, cancel, archive tasks (narrowed per environment for
 *   deployers, by the environment of the task's deployment).
 * - `control`: create and run control tasks.
 * - `token:own`: create, list and revoke one's own API tokens, change one's own password.
 * - `infrastructure:manage`, `environment:manage`: create, change, delete hosts / environments.
 * - `user:manage`: users and their roles; `token:manage`: every user's tokens.
 * - `worker:manage`: drain and delete workers, restore ghost tasks.
 * - `audit:read`: the audit trail.
 */
export const PERMISSIONS = [
  'read',
  'read:secrets',
  'package:import',
  'deploy',
  'task:operate',
  'control',
  'token:own',
  'infrastructure:manage',
  'environment:manage',
  'user:manage',
  'token:manage',
  'worker:manage',
  'audit:read',
] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** The fixed permissions of each role. */
export const ROLE_PERMISSIONS: Readonly<Record<Role, ReadonlySet<Permission>>> = {
  viewer: new Set<Permission>(['read', 'token:own']),
  deployer: new Set<Permission>(['read', 'token:own', 'package:import', 'deploy', 'task:operate', 'control']),
  admin: new Set<Permission>(PERMISSIONS),
};

/** Permissions that a deployer's environment list narrows; every other permission ignores it. */
export const ENVIRONMENT_SCOPED_PERMISSIONS: ReadonlySet<Permission> = new Set<Permission>(['deploy', 'task:operate']);

/** Who is making a request, as {@link authorize} sees it. */
export interface Subject {
  role: Role;
  /**
   * For deployers: the environments they may deploy to and operate tasks in; null means all.
   * Ignored for other roles.
   */
  environments: readonly string[] | null;
}

/** What a permission is asked for. */
export interface AuthorizeContext {
  /**
   * The environment the operation touches. A string is checked against a deployer's list; null
   * says the object belongs to no environment (e.g. a control task), so the list does not apply.
   * Left out, an environment-scoped permission is refused to a narrowed deployer: a route that
   * forgets to say which environment it touches fails closed.
   */
  environment?: string | null;
}

/** The answer of {@link authorize}; a refusal says why, for the 403 message. */
export type Decision = { allowed: true } | { allowed: false; reason: string };

/** Whether `subject` holds `permission` in `context`. */
export function authorize(subject: Subject, permission: Permission, context: AuthorizeContext = {}): Decision {
  if (!ROLE_PERMISSIONS[subject.role].has(permission)) {
    return { allowed: false, reason: `role ${subject.role} does not have permission ${permission}` };
  }
  if (subject.role !== 'deployer' || subject.environments === null || !ENVIRONMENT_SCOPED_PERMISSIONS.has(permission)) {
    return { allowed: true };
  }
  const { environment } = context;
  if (environment === null) return { allowed: true };
  if (environment === undefined) {
    return {
      allowed: false,
      reason: `permission ${permission} is limited to environments ${list(subject.environments)} and this request names none`,
    };
  }
  if (subject.environments.includes(environment)) return { allowed: true };
  return {
    allowed: false,
    reason: `permission ${permission} is limited to environments ${list(subject.environments)}, not ${environment}`,
  };
}

function list(environments: readonly string[]): string {
  return environments.length === 0 ? '(none)' : environments.join(', ');
}

/** Type guard for role names read from requests or rows. */
export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

/** Type guard for permission names. */
export function isPermission(value: unknown): value is Permission {
  return typeof value === 'string' && (PERMISSIONS as readonly string[]).includes(value);
}

/**
 * Whether `subject` may create, list or revoke tokens of the user `ownerId`: their own with
 * `token:own`, anyone's with `token:manage`.
 */
export function authorizeTokenOwner(subject: Subject & { userId: string }, ownerId: string): Decision {
  if (authorize(subject, 'token:manage').allowed) return { allowed: true };
  if (subject.userId === ownerId) return authorize(subject, 'token:own');
  return { allowed: false, reason: `role ${subject.role} may manage only its own tokens` };
}
