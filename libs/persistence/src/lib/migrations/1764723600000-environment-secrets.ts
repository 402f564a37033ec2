import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The secret entries of an environment's dictionary (issue 9): a map of key to sealed value
 * (AES-256-GCM ciphertext, `<<sealed:v1:…>>`), kept apart from the plain `dictionary` so that
 * no code path can show one as the other. Existing environments get none.
 */
export class EnvironmentSecrets1764723600000 implements MigrationInterface {
  readonly name = 'EnvironmentSecrets1764723600000';

  async up(runner: QueryRunner): Promise<void> {
    const json = runner.connection.driver.options.type === 'postgres' ? `jsonb NOT NULL DEFAULT '{}'::jsonb` : `text NOT NULL DEFAULT '{}'`;
    await runner.query(`ALTER TABLE environments ADD COLUMN secrets ${json}`);
  }

  async down(runner: QueryRunner): Promise<void> {
    await runner.query('ALTER TABLE environments DROP COLUMN secrets');
  }
}
