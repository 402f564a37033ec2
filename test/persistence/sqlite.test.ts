import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeStoresContract } from './stores-contract';

describe('Stores on SQLite', () => {
  let dir: string;
  let fresh = 0;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'shipdeck-sqlite-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  describeStoresContract({
    // A nested directory checks that openStores creates it.
    url: () => `file:${join(dir, 'data', 'shipdeck.db')}`,
    freshUrl: () => `file:${join(dir, `fresh-${++fresh}.db`)}`,
  });
});
