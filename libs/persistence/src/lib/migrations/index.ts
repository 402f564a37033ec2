import { InitialSchema1732550400000 } from './1732550400000-initial-schema';
import { Workers1732636800000 } from './1732636800000-workers';
import { AuthTables1764547200000 } from '../auth/auth-migration';
import { AuditTaskId1764633600000 } from '../auth/audit-task-migration';
import { EnvironmentSecrets1764723600000 } from './1764723600000-environment-secrets';
import { WorkerCertificates1764806400000 } from './1764806400000-worker-certificates';

/** Every migration, oldest first. A new one is appended here; a released one is never edited. */
export const MIGRATIONS = [
  InitialSchema1732550400000,
  Workers1732636800000,
  AuthTables1764547200000,
  AuditTaskId1764633600000,
  EnvironmentSecrets1764723600000,
  WorkerCertificates1764806400000,
];

/** The table in which TypeORM records the migrations it ran. */
export const MIGRATIONS_TABLE = 'shipdeck_migrations';
