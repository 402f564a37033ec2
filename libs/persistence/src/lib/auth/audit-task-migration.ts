import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The task an audit entry is about (issue 10: tasks record who created, started, stopped and
 * archived them). A column of its own rather than a lookup in `object_ids`, so that the task view
 * finds a task's entries by index on SQLite and PostgreSQL alike.
 */
export class AuditTaskId1764633600000 implements MigrationInterface {
  readonly name = 'AuditTaskId1764633600000';

  async up(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE audit_entries ADD COLUMN task_id text');
    await runner.query('CREATE INDEX audit_entries_task_idx ON audit_entries (task_id, seq)');
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP INDEX audit_entries_task_idx');
    await runner.query('ALTER TABLE audit_entries DROP COLUMN task_id');
  }
}
