export { AUTH_AUDIT_OUTCOMES, AUTH_ROLES } from './lib/auth/auth-records';
export type { AuthApiTokenRecord, AuthAuditEntry, AuthAuditOutcome, AuthAuditQuery, AuthNewAuditEntry, AuthSessionRecord, AuthUserPatch, AuthUserRecord } from './lib/auth/auth-records';
export { openStores } from './lib/open-stores';
export type { Clock } from './lib/row-mapping';
export type { StepLogStore, Stores, TaskLeases, TaskRepository, TaskStore, WorkerRecord, WorkerStore } from './lib/stores';
