import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * With mutual TLS on the command channel, the certificate subject each worker id belongs to: kept
 * in the database so that every master refuses the id to another certificate (issue 10).
 */
export class WorkerCertificates1764806400000 implements MigrationInterface {
  readonly name = 'WorkerCertificates1764806400000';

  async up(runner: QueryRunner): Promise<void> {
    const time = runner.connection.driver.options.type === 'postgres' ? 'timestamptz' : 'datetime';
    await runner.query(`CREATE TABLE worker_certificates (
      worker_id text PRIMARY KEY,
      subject text NOT NULL,
      bound_at ${time} NOT NULL
    )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE worker_certificates');
  }
}
