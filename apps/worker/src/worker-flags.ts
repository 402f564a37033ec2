import { ValidationError } from '@shipdeck/errors';

/** The command line of `shipdeck worker` (spec §7). */
export interface WorkerFlags {
  /** `-master HOST:PORT` (repeatable) or one `-master NAME` resolved by DNS. */
  masters: string[];
  /** `-api URL`: the REST endpoint (normally the load balancer) for actions only masters perform. */
  api: string | null;
  /** `-name NAME`: a display name, not unique. */
  name: string | null;
  /** `-port PORT`: the worker's own HTTP port (health); 0 = any free port. */
  port: number;
  /** `-hostname HOST`: the host part of the address masters list. */
  hostname: string | null;
  /** `-work-dir DIR`: recovery files and the worker id. */
  workDir: string | null;
}

const VALUE_FLAGS = ['master', 'api', 'name', 'port', 'hostname', 'work-dir'] as const;
type ValueFlag = (typeof VALUE_FLAGS)[number];

/**
 * Parses worker flags. The single-dash forms are the documented ones; `--flag value` and
 * `--flag=value` are accepted too. Unknown flags and missing values name the flag.
 */
export function parseWorkerFlags(argv: readonly string[]): WorkerFlags {
  const flags: WorkerFlags = { masters: [], api: null, name: null, port: 0, hostname: null, workDir: null };
  const problems: { field: string; message: string }[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const match = /^--?([a-z-]+)(?:=(.*))?$/.exec(arg);
    if (!match || !(VALUE_FLAGS as readonly string[]).includes(match[1])) {
      problems.push({ field: arg, message: `unknown argument; expected one of ${VALUE_FLAGS.map((f) => `-${f}`).join(', ')}` });
      continue;
    }
    const flag = match[1] as ValueFlag;
    const value = match[2] ?? argv[++i];
    if (value === undefined || value === '') {
      problems.push({ field: `-${flag}`, message: 'needs a value' });
      continue;
    }
    switch (flag) {
      case 'master':
        flags.masters.push(value);
        break;
      case 'api':
        if (!/^https?:\/\/[^/]+/.test(value)) problems.push({ field: '-api', message: `must be an http(s) URL (got ${value})` });
        flags.api = value.replace(/\/+$/, '');
        break;
      case 'port': {
        const port = Number(value);
        if (!Number.isInteger(port) || port < 0 || port > 65535) {
          problems.push({ field: '-port', message: `must be an integer between 0 and 65535 (got ${value})` });
        }
        flags.port = port;
        break;
      }
      case 'name':
        flags.name = value;
        break;
      case 'hostname':
        flags.hostname = value;
        break;
      case 'work-dir':
        flags.workDir = value;
        break;
    }
  }
  if (problems.length > 0) {
    throw new ValidationError(
      `invalid worker arguments: ${problems.map((p) => `${p.field}: ${p.message}`).join('; ')}`,
      problems,
    );
  }
  return flags;
}
