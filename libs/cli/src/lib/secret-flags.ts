import { type Environment, SECRET_MASK } from '@shipdeck/domain';
import { CommandSpec, UsageError } from './args';
import { readPassword } from './auth-commands';
import { Session } from './session';

/**
 * The `secrets` of `environments put`: `--secret KEY=VALUE` as given (it stays in the shell's
 * history), `--secret KEY` asked for at a prompt that does not echo (or read from the first
 * line of standard input; then only one such key), and with `--keep-secrets` every secret the
 * environment already has and the command does not name, sent back as the mask (kept as stored).
 */
export async function secretsOf(
  s: Session,
  name: string,
  flags: { secret?: string[]; 'keep-secrets'?: boolean },
  spec: CommandSpec,
): Promise<Record<string, string>> {
  const secrets: Record<string, string> = {};
  const asked = (flags.secret ?? []).filter((entry) => !entry.includes('='));
  if (asked.length > 1 && !s.stdin?.isTTY) {
    throw new UsageError(`--secret ${asked[1]}: without a terminal only one secret value can come from standard input`, spec);
  }
  for (const entry of flags.secret ?? []) {
    const at = entry.indexOf('=');
    if (at === 0 || entry === '') throw new UsageError(`--secret expects KEY=VALUE or KEY, got ${JSON.stringify(entry)}`, spec);
    if (at > 0) secrets[entry.slice(0, at)] = entry.slice(at + 1);
    else secrets[entry] = await readPassword(s.stdin, s, `Value of secret ${entry}: `, `pipe the value of ${entry} to standard input`);
  }
  if (flags['keep-secrets']) {
    const { body } = await s.client.json<Environment>('GET', `/environments/${encodeURIComponent(name)}`);
    for (const key of Object.keys(body.secrets ?? {})) if (!Object.hasOwn(secrets, key)) secrets[key] = SECRET_MASK;
  }
  return secrets;
}
