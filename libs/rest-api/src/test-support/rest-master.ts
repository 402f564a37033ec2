import type { AuthService } from '@shipdeck/auth';
import { InMemoryMaster, startInMemoryMaster } from '@shipdeck/master-services/testing';
import { RestAppOptions, createRestApp } from '../lib/app';
import { bearerFor, testAuth } from './auth';
import { TestServer, startTestServer } from './http';
import { LogEntry, memoryLogger } from './memory-logger';

/** Options of {@link startRestMaster}. */
export interface RestMasterOptions {
  /** @default 'embedded' (an in-process worker) */
  mode?: 'embedded' | 'cluster';
  /**
   * Puts the host `local` and the environment `dev` in the catalog first.
   * @default false
   */
  seedCatalog?: boolean;
  /**
   * Sends the admin's credentials with every request that does not set its own `authorization`.
   * @default false: a request without credentials is anonymous
   */
  asAdmin?: boolean;
  /** Passed to the app as {@link RestAppOptions.metrics}. */
  metrics?: RestAppOptions['metrics'];
}

/** The REST app in front of the real master services, on an ephemeral port. */
export interface RestMaster {
  master: InMemoryMaster;
  server: TestServer;
  auth: AuthService;
  /** The `Authorization` header of the user `admin` (role admin). */
  admin: string;
  /** What the master and the app logged (debug and up). */
  logs: LogEntry[];
  /** Closes the server, then the master. */
  close(): Promise<void>;
}

/**
 * Starts the REST app over the master services of an in-memory SQLite database and the in-process
 * queue, with fast password hashing and a user `admin`: what a request answers is what the product
 * answers.
 */
export async function startRestMaster(options: RestMasterOptions = {}): Promise<RestMaster> {
  const { logger, entries } = memoryLogger();
  const master = await startInMemoryMaster({ mode: options.mode, logger });
  if (options.seedCatalog) await master.seedCatalog();
  const auth = testAuth(master.stores, logger);
  const admin = await bearerFor(auth.service, 'admin', 'admin');
  const app = createRestApp({ services: master.services, logger, auth, metrics: options.metrics });
  const server = await startTestServer(app, options.asAdmin ? { headers: { authorization: admin } } : {});
  return {
    master,
    server,
    auth: auth.service,
    admin,
    logs: entries,
    async close() {
      await server.close();
      await master.close();
    },
  };
}

/**
 * A {@link RestMaster} for each test of the calling spec file: started before the test (before the
 * file's own `beforeEach`), closed after it. Its properties are the running test's.
 */
export function useRestMaster(options: RestMasterOptions = {}): Omit<RestMaster, 'close'> {
  let current: RestMaster | undefined;
  beforeEach(async () => {
    current = await startRestMaster(options);
  });
  afterEach(async () => {
    await current?.close();
    current = undefined;
  });
  const started = (): RestMaster => {
    if (!current) throw new Error('no REST master is running outside a test');
    return current;
  };
  return {
    get master() {
      return started().master;
    },
    get server() {
      return started().server;
    },
    get auth() {
      return started().auth;
    },
    get admin() {
      return started().admin;
    },
    get logs() {
      return started().logs;
    },
  };
}
