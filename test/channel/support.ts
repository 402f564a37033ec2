import { randomUUID } from 'node:crypto';
import { Socket, connect } from 'node:net';
import { Writable } from 'node:stream';
import {
  CHANNEL_PROTOCOL_VERSION,
  CommandChannelClient,
  CommandChannelClientOptions,
  CommandChannelServer,
  CommandChannelServerOptions,
  CommandReply,
  MasterInfo,
  WorkerCommand,
  WorkerRegistration,
  WorkerSession,
} from '@shipdeck/command-channel';
import { Logger, createLogger } from '@shipdeck/logging';
import { pollUntil } from '../support/poll';

/** A logger whose lines the test can read (JSON lines, every level down to debug). */
export interface CapturingLogger {
  logger: Logger;
  lines: { level: string; message: string }[];
  /** Whether some line at `level` (or any level) matches. */
  has(pattern: RegExp, level?: string): boolean;
  dump(): string;
}

export function capturingLogger(name: string): CapturingLogger {
  const lines: { level: string; message: string }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        const entry = JSON.parse(line) as { level: string; message: string };
        lines.push({ level: entry.level, message: entry.message });
        if (process.env.SHIPDECK_TEST_VERBOSE) process.stdout.write(`[${name}] ${entry.level} ${entry.message}\n`);
      }
      done();
    },
  });
  const logger = createLogger({ json: true, name, stream, level: 'debug' });
  return {
    logger,
    lines,
    has: (pattern, level) => lines.some((l) => (level === undefined || l.level === level) && pattern.test(l.message)),
    dump: () => lines.map((l) => `${l.level} ${l.message}`).join('\n'),
  };
}

/** What a test master saw: sessions registered, updated and closed, in order. */
export interface TestMaster {
  server: CommandChannelServer;
  port: number;
  masterId: string;
  log: CapturingLogger;
  registered: WorkerSession[];
  updated: WorkerSession[];
  closed: { session: WorkerSession; reason: string }[];
}

/** Starts a master end on loopback (any free port unless `port` is given). */
export async function startMaster(
  overrides: Partial<CommandChannelServerOptions> = {},
): Promise<TestMaster> {
  const masterId = overrides.masterId ?? `master-${randomUUID().slice(0, 8)}`;
  const log = capturingLogger(masterId);
  const registered: WorkerSession[] = [];
  const updated: WorkerSession[] = [];
  const closed: { session: WorkerSession; reason: string }[] = [];
  const server = new CommandChannelServer({
    port: 0,
    host: '127.0.0.1',
    masterId,
    configHash: 'hash-1',
    heartbeatTimeoutMs: 5_000,
    logger: log.logger,
    onRegister: (session) => void registered.push(session),
    onUpdate: (session) => void updated.push(session),
    onClose: (session, reason) => void closed.push({ session, reason }),
    ...overrides,
  });
  const { port } = await server.start();
  return { server, port, masterId, log, registered, updated, closed };
}

export function registrationOf(workerId: string, overrides: Partial<WorkerRegistration> = {}): WorkerRegistration {
  return {
    protocolVersion: CHANNEL_PROTOCOL_VERSION,
    workerId,
    name: `name of ${workerId}`,
    address: 'localhost:9999',
    configHash: 'hash-1',
    capacity: 2,
    state: 'RUNNING',
    tasks: [],
    ...overrides,
  };
}

/** What a test worker saw: commands, welcomes, lost masters. */
export interface TestWorker {
  client: CommandChannelClient;
  workerId: string;
  log: CapturingLogger;
  /** Mutable: what the next register and heartbeat say. */
  registration: WorkerRegistration;
  commands: { command: WorkerCommand; master: MasterInfo }[];
  welcomes: MasterInfo[];
  lost: string[];
}

/**
 * Starts a worker end; `onCommand` defaults to answering `ok: true, "done <kind>"`. `workerId`
 * lets a test start a second worker (an impostor) under the id of a first.
 */
export async function startWorker(
  masters: string[],
  overrides: Partial<CommandChannelClientOptions> = {},
  workerId = `worker-${randomUUID().slice(0, 8)}`,
): Promise<TestWorker> {
  const log = capturingLogger(workerId);
  const worker: TestWorker = {
    client: undefined as unknown as CommandChannelClient,
    workerId,
    log,
    registration: registrationOf(workerId),
    commands: [],
    welcomes: [],
    lost: [],
  };
  worker.client = new CommandChannelClient({
    masters,
    defaultPort: 8180,
    resolveIntervalMs: 30_000,
    heartbeatIntervalMs: 200,
    reconnect: { initialDelayMs: 50, maxDelayMs: 400 },
    registration: () => worker.registration,
    logger: log.logger,
    onCommand: async (command, master): Promise<CommandReply> => {
      worker.commands.push({ command, master });
      return { ok: true, message: `done ${command.kind}` };
    },
    onWelcome: (master) => void worker.welcomes.push(master),
    onMasterLost: (endpoint) => void worker.lost.push(endpoint),
    ...overrides,
  });
  await worker.client.start();
  return worker;
}

/** The open session of `workerId` on `master`, once it registered. */
export async function sessionOf(master: TestMaster, workerId: string, timeoutMs = 5_000): Promise<WorkerSession> {
  await pollUntil(() => master.server.session(workerId) !== undefined, {
    timeoutMs,
    describe: () => `worker ${workerId} did not register with ${master.masterId} within ${timeoutMs} ms\n${master.log.dump()}`,
  });
  return master.server.session(workerId)!;
}

/** A raw TCP socket to a master, for frames no well-behaved worker sends. */
export async function rawSocket(port: number): Promise<Socket & { received: string; ended: Promise<void> }> {
  const socket = connect({ host: '127.0.0.1', port }) as Socket & { received: string; ended: Promise<void> };
  socket.received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (socket.received += chunk));
  socket.on('error', () => undefined);
  socket.ended = new Promise((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return socket;
}
