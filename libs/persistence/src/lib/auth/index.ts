export * from './auth-records';
export { createAuthEntities } from './auth-entities';
export type { AuthEntities } from './auth-entities';
export { AuthTables1764547200000 } from './auth-migration';
export { AuditTaskId1764633600000 } from './audit-task-migration';
export { TypeormAuthStore } from './typeorm-auth-store';
export type { AuthDatabase } from './typeorm-auth-store';
