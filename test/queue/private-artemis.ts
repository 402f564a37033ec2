/**
 * An Artemis of a test's own: `artemis-broker/start-local` with its own instance directory (users,
 * journal) and its own ports, sharing only the unpacked distribution with the local instance. A
 * test that kills the broker uses one, so that no other test (nor another helper's run) loses its
 * broker. Imports no test framework.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const START_LOCAL = join(__dirname, '..', '..', 'artemis-broker', 'start-local');

/** Whether nothing listens on `port` now. */
function isFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/**
 * A free port below the kernel's ephemeral range. While the killed broker is down its port is
 * free, and a port inside the ephemeral range can be handed out meanwhile: to any `listen(0)` on
 * the machine (other tests pick their ports so), or as the local port of a client reconnecting to
 * that very port (a TCP self-connect), and the broker could not start again. The kernel never
 * hands out ports outside the range by itself, like the brokers' usual 5672 and 61616.
 */
async function brokerPort(): Promise<number> {
  const [ephemeralLow] = readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number);
  const low = 20_000;
  if (!(ephemeralLow > low + 1000)) throw new Error(`the ephemeral port range starts at ${ephemeralLow}: no room below it for a private broker`);
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = low + Math.floor(Math.random() * (ephemeralLow - low));
    if (await isFree(port)) return port;
  }
  throw new Error(`no free port found between ${low} and ${ephemeralLow} in 50 draws`);
}

export interface PrivateArtemis {
  /** Its URLs, with the test user (who may send, consume and manage). */
  readonly urls: { amqp: string; stomp: string };
  /** The JVM's pid now (it changes at every start). */
  pid(): number;
  /**
   * SIGKILLs the JVM (nothing is flushed: the journal is what the broker had written) and resolves
   * once it is dead, its sockets closed.
   */
  kill(): Promise<void>;
  /** Starts it again on its instance (and journal); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its instance directory. */
  remove(): Promise<void>;
}

/** Whether a connection to `port` is refused (nothing listens there any more). */
function refuses(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });
}

/**
 * Resolves once process `pid` is gone (or a zombie) and `ports` refuse connections. A SIGKILLed
 * JVM's thread-group leader is a zombie, its command line empty, while its other threads still
 * exit and its sockets still accept (seen here); start-local, run at that moment, no longer sees
 * its broker running yet finds the port answering, and fails with "port … is taken by a process
 * this script did not start".
 */
async function untilDead(pid: number, ports: number[], timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const exited = () => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // The state follows the parenthesised command name.
      return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
    } catch {
      return true;
    }
  };
  while (!(exited() && (await Promise.all(ports.map(refuses))).every(Boolean))) {
    if (Date.now() > deadline) throw new Error(`the broker's JVM (pid ${pid}) or its ports still answer ${timeoutMs} ms after SIGKILL`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/** Creates the instance and starts it; resolves once it accepts connections (minutes at the first fetch). */
export async function startPrivateArtemis(): Promise<PrivateArtemis> {
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-artemis-'));
  const instance = join(dir, 'broker');
  const ports = [await brokerPort(), await brokerPort()];
  const env = {
    ...process.env,
    SHIPDECK_ARTEMIS_INSTANCE: instance,
    SHIPDECK_ARTEMIS_PORT: String(ports[0]),
    SHIPDECK_ARTEMIS_STOMP_PORT: String(ports[1]),
  };
  const startLocal = async (command: 'start' | 'stop') => void (await run('bash', [START_LOCAL, command], { env, timeout: 240_000 }));
  try {
    await startLocal('start');
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  const vars = Object.fromEntries(
    readFileSync(join(instance, 'shipdeck-local.env'), 'utf8')
      .split('\n')
      .filter((line) => /^[A-Z_]+=/.test(line))
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
  const pid = () => Number(readFileSync(join(instance, 'shipdeck.pid'), 'utf8'));
  return {
    urls: { amqp: vars.SHIPDECK_ARTEMIS_AMQP_URL, stomp: vars.SHIPDECK_ARTEMIS_STOMP_URL },
    pid,
    async kill() {
      const killed = pid();
      process.kill(killed, 'SIGKILL');
      await untilDead(killed, ports);
    },
    start: () => startLocal('start'),
    async remove() {
      await startLocal('stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
