import { EventEmitter } from 'node:events';
import type { EntityManager } from 'typeorm';
import { RawSql } from './raw-sql';

interface Sent {
  name?: string;
  text: string;
  values: unknown[];
}

/** A node-postgres client that records what it is sent and answers `answer` (or throws it). */
function fakeClient(answer: (query: Sent) => unknown = () => ({ rows: [{ one: 1 }] })) {
  const sent: Sent[] = [];
  const events = new EventEmitter();
  return {
    sent,
    released: 0,
    /** What each release was given: an error destroys the connection instead of pooling it. */
    releasedWith: [] as unknown[],
    events,
    async query(query: Sent) {
      sent.push(query);
      const result = answer(query);
      if (result instanceof Error) throw result;
      return result;
    },
    on(event: string, listener: (error: Error) => void) {
      events.on(event, listener);
    },
    off(event: string, listener: (error: Error) => void) {
      events.off(event, listener);
    },
    release(error?: unknown) {
      this.released++;
      this.releasedWith.push(error);
    },
  };
}

function manager(client: ReturnType<typeof fakeClient>, inTransaction = false): EntityManager {
  const logger = { logQueryError: jest.fn(), logQuerySlow: jest.fn() };
  const connection = { driver: { master: { connect: async () => client } }, logger, options: {} };
  const queryRunner = inTransaction ? { connect: async () => client } : undefined;
  return { connection, queryRunner } as unknown as EntityManager;
}

describe('RawSql on PostgreSQL', () => {
  const sql = new RawSql('postgres');

  it('runs each statement text under one name, on a pool connection it releases', async () => {
    const client = fakeClient();
    const m = manager(client);
    expect(await sql.rows(m, 'SELECT 1 AS one WHERE $1 = $1', ['a'])).toEqual([{ one: 1 }]);
    await sql.rows(m, 'SELECT 1 AS one WHERE $1 = $1', ['b']);
    await sql.rows(m, 'SELECT 2 AS one WHERE $1 = $1', ['c']);
    const [first, again, other] = client.sent;
    expect(first).toEqual({ name: expect.stringMatching(/^shipdeck_\d+$/), text: 'SELECT 1 AS one WHERE $1 = $1', values: ['a'] });
    expect(again!.name).toBe(first!.name);
    expect(other!.name).not.toBe(first!.name);
    expect(client.released).toBe(3);
  });

  it("runs a transaction's statements on the transaction's own connection", async () => {
    const client = fakeClient();
    await sql.rows(manager(client, true), 'SELECT 3 AS one', []);
    expect(client.sent).toHaveLength(1);
    // The transaction releases its connection itself, at its end.
    expect(client.released).toBe(0);
  });

  it('prepares a statement again, under a new name, when a schema change made its plan stale', async () => {
    const stale = Object.assign(new Error('cached plan must not change result type'), { code: '0A000' });
    const client = fakeClient(() => (client.sent.length === 2 ? stale : { rows: [] }));
    const m = manager(client);
    await sql.rows(m, 'SELECT * FROM stale_example', []);
    await sql.rows(m, 'SELECT * FROM stale_example', []);
    const [first, failed, retried] = client.sent;
    expect(failed!.name).toBe(first!.name);
    expect(retried!.name).not.toBe(first!.name);
    expect(retried!.text).toBe(first!.text);
  });

  it('passes other errors on as they are, the connection released', async () => {
    const unique = Object.assign(new Error('duplicate key'), { code: '23505' });
    const client = fakeClient(() => unique);
    await expect(sql.rows(manager(client), 'INSERT INTO x VALUES ($1)', [1])).rejects.toBe(unique);
    expect(client.sent).toHaveLength(1);
    expect(client.released).toBe(1);
    // A server's error (a SQLSTATE) leaves the connection usable: back to the pool, not destroyed.
    expect(client.releasedWith).toEqual([undefined]);
    expect(client.events.listenerCount('error')).toBe(0);
  });
});
