/**
 * An Artemis of a test's own: `artemis-broker/start-local` with its own instance directory (users,
 * journal) and its own ports, sharing only the unpacked distribution with the local instance. A
 * test that kills the broker uses one, so that no other test (nor another helper's run) loses its
 * broker. Imports no test framework.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
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
 * that very port (a TCP self-connect). Then the broker cannot start again (seen here: "port … is
 * taken by a process this script did not start"). The kernel never hands out ports outside the
 * range by itself, like the brokers' usual 5672 and 61616.
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
  /** SIGKILLs the JVM: nothing is flushed, the journal is what the broker had written. */
  kill(): void;
  /** Starts it again on its instance (and journal); resolves once it accepts connections. */
  start(): Promise<void>;
  /** Stops it and removes its instance directory. */
  remove(): Promise<void>;
}

/** Creates the instance and starts it; resolves once it accepts connections (minutes at the first fetch). */
export async function startPrivateArtemis(): Promise<PrivateArtemis> {
  const dir = mkdtempSync(join(tmpdir(), 'shipdeck-artemis-'));
  const instance = join(dir, 'broker');
  const env = {
    ...process.env,
    SHIPDECK_ARTEMIS_INSTANCE: instance,
    SHIPDECK_ARTEMIS_PORT: String(await brokerPort()),
    SHIPDECK_ARTEMIS_STOMP_PORT: String(await brokerPort()),
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
    kill: () => process.kill(pid(), 'SIGKILL'),
    start: () => startLocal('start'),
    async remove() {
      await startLocal('stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
