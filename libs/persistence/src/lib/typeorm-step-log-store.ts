import { Database } from './database';
import { RawSql } from './raw-sql';
import { StepLogStore } from './stores';

/** Step logs as ordered, append-only chunks. */
export class TypeOrmStepLogStore implements StepLogStore {
  /** Every step appends at least once: a hand-written INSERT (see RawSql). */
  private readonly sql: RawSql;

  constructor(private readonly db: Database) {
    this.sql = new RawSql(db.dialect);
  }

  append(taskId: string, path: string, text: string): Promise<void> {
    if (text === '') return Promise.resolve();
    return this.db.run(`appending to the log of task ${taskId} step ${path}`, async (m) => {
      await this.sql.rows(m, 'INSERT INTO step_logs (task_id, path, text) VALUES ($1, $2, $3)', [taskId, path, text]);
    });
  }

  read(taskId: string, path: string): Promise<string> {
    return this.db.run(`reading the log of task ${taskId} step ${path}`, async (m) => {
      const chunks = await m.find(this.db.entities.stepLog, {
        select: { text: true, seq: true },
        where: { task_id: taskId, path },
        order: { seq: 'ASC' },
      });
      return chunks.map((chunk) => chunk.text).join('');
    });
  }

  removeTask(taskId: string): Promise<void> {
    return this.db.run(`removing the logs of task ${taskId}`, async (m) => {
      await m.delete(this.db.entities.stepLog, { task_id: taskId });
    });
  }
}