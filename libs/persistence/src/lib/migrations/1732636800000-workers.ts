import { MigrationInterface, QueryRunner } from 'typeorm';

/** Workers known to the cluster, so that a gone worker stays listed (DISCONNECTED) until forgotten. */
export class Workers1732636800000 implements MigrationInterface {
  readonly name = 'Workers1732636800000';

  async up(runner: QueryRunner): Promise<void> {
    const time = runner.connection.driver.options.type === 'postgres' ? 'timestamptz' : 'datetime';
    await runner.query(`CREATE TABLE workers (
      id text PRIMARY KEY,
      name text NOT NULL,
      address text NOT NULL,
      config_hash text NOT NULL,
      capacity integer NOT NULL,
      registered_at ${time} NOT NULL,
      last_seen ${time} NOT NULL
    )`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('DROP TABLE workers');
  }
}
