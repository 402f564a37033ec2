import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Output of a finished command. */
export interface CommandResult {
  stdout: string;
  stderr: string;
}

/** Runs a command, failing with its output when it exits non-zero. */
export async function sh(file: string, args: readonly string[], timeoutMs = 600_000): Promise<CommandResult> {
  try {
    const { stdout, stderr } = await run(file, [...args], { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
    return { stdout, stderr };
  } catch (error) {
    const e = error as Error & { stdout?: string; stderr?: string; code?: number | string };
    throw new Error(`${file} ${args.join(' ')} failed (${e.code ?? e.message}):\n${e.stdout ?? ''}${e.stderr ?? ''}`);
  }
}

/** What the test needs to know about a container. */
export interface ContainerState {
  id: string;
  name: string;
  running: boolean;
  exitCode: number;
  /** `healthy`, `starting`, `unhealthy`, or `none` without a health check. */
  health: string;
  ip: string;
  restartCount: number;
}

export async function inspect(id: string): Promise<ContainerState> {
  const { stdout } = await sh('docker', ['inspect', id]);
  const [c] = JSON.parse(stdout) as {
    Id: string;
    Name: string;
    RestartCount: number;
    State: { Running: boolean; ExitCode: number; Health?: { Status: string } };
    NetworkSettings: { Networks: Record<string, { IPAddress: string }> };
  }[];
  const ips = Object.values(c.NetworkSettings.Networks).map((n) => n.IPAddress).filter((ip) => ip !== '');
  return {
    id: c.Id,
    name: c.Name.replace(/^\//, ''),
    running: c.State.Running,
    exitCode: c.State.ExitCode,
    health: c.State.Health?.Status ?? 'none',
    ip: ips[0] ?? '',
    restartCount: c.RestartCount,
  };
}

/**
 * The project's compose command: `docker compose` (v2) when the CLI has it, else `docker-compose`
 * (v1, what Debian packages), always on the shipped file plus the test's override, and with the
 * same profiles.
 */
export class Compose {
  private constructor(
    private readonly command: readonly string[],
    private readonly fileArgs: readonly string[],
  ) {}

  /** `profiles`: the profiles every command runs with (`--profile`, Compose 1.28 and later). */
  static async detect(project: string, files: readonly string[], envFile: string, profiles: readonly string[] = []): Promise<Compose> {
    const fileArgs = ['-p', project, ...files.flatMap((f) => ['-f', f]), '--env-file', envFile, ...profiles.flatMap((p) => ['--profile', p])];
    try {
      await sh('docker', ['compose', 'version']);
      return new Compose(['docker', 'compose'], fileArgs);
    } catch {
      await sh('docker-compose', ['version']);
      return new Compose(['docker-compose'], fileArgs);
    }
  }

  get name(): string {
    return this.command.join(' ');
  }

  async run(args: readonly string[], timeoutMs?: number): Promise<CommandResult> {
    const [file, ...rest] = this.command;
    return sh(file, [...rest, ...this.fileArgs, ...args], timeoutMs);
  }

  /** Runs with the output shown as it comes (long builds), failing on a non-zero exit. */
  async stream(args: readonly string[]): Promise<void> {
    const [file, ...rest] = this.command;
    const all = [...rest, ...this.fileArgs, ...args];
    const code = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(file, all, { stdio: ['ignore', 'inherit', 'inherit'] });
      child.on('error', reject);
      child.on('exit', resolve);
    });
    if (code !== 0) throw new Error(`${file} ${all.join(' ')} exited with ${code}`);
  }

  /** Ids of the service's containers, running or not. */
  async ids(service: string): Promise<string[]> {
    const { stdout } = await this.run(['ps', '-a', '-q', service]);
    return stdout.split('\n').map((s) => s.trim()).filter((s) => s !== '');
  }

  async id(service: string): Promise<string> {
    const ids = await this.ids(service);
    if (ids.length !== 1) throw new Error(`expected one ${service} container, found ${ids.length}`);
    return ids[0];
  }
}
