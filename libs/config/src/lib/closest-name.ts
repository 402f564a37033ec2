import { FieldError } from '@shipdeck/errors';
import { CONFIG_KEYS, OTHER_ENV_VARS, TOOLING_ENV_PREFIXES, envVarName } from './keys';

/*
 * "Did you mean …": unknown keys and SHIPDECK_* variables are warned about with the closest known
 * name, so that a typo does not silently leave a default in place.
 */

/** Mappings that group keys (`task`, `task.queue`…), derived from the key paths. */
export const SECTIONS = new Set(
  Object.keys(CONFIG_KEYS).flatMap((key) => key.split('.').slice(0, -1).map((_, i, parts) => parts.slice(0, i + 1).join('.'))),
);

/** `SHIPDECK_*` variables that are neither a key's override nor read elsewhere, with the closest known name. */
export function unknownEnvVars(env: Readonly<Record<string, string | undefined>>): FieldError[] {
  const keyVars = new Map(Object.keys(CONFIG_KEYS).map((key) => [envVarName(key), key]));
  const known = [...keyVars.keys(), ...OTHER_ENV_VARS];
  return Object.keys(env)
    .filter((name) => name.startsWith('SHIPDECK_') && env[name] !== undefined)
    .filter((name) => !known.includes(name) && !TOOLING_ENV_PREFIXES.some((prefix) => name.startsWith(prefix)))
    .sort()
    .map((name) => {
      const suggestion = closestName(name, known);
      const key = suggestion === undefined ? undefined : keyVars.get(suggestion);
      const hint = suggestion === undefined ? '' : ` (did you mean ${suggestion}${key ? `, key ${key}` : ''}?)`;
      return { field: name, message: `unknown environment variable, ignored${hint}` };
    });
}

/** The name closest to `unknown`, when it is close enough to be a typo. */
function closestName(unknown: string, names: readonly string[]): string | undefined {
  let best: { name: string; distance: number } | undefined;
  for (const name of names) {
    const distance = levenshtein(unknown, name);
    if (!best || distance < best.distance) best = { name, distance };
  }
  const bare = unknown.length - 'SHIPDECK_'.length;
  return best && best.distance <= Math.max(2, Math.floor(bare / 4)) ? best.name : undefined;
}

/** The known key or section closest to an unknown one, when it is close enough to be a typo. */
export function closestKey(unknown: string): string | undefined {
  const normalize = (s: string) => s.toLowerCase().replace(/[_-]/g, '');
  const target = normalize(unknown);
  const lastSegment = normalize(unknown.split('.').pop()!);
  let best: { key: string; distance: number } | undefined;
  for (const candidate of [...Object.keys(CONFIG_KEYS), ...SECTIONS]) {
    const normalized = normalize(candidate);
    // A key put under the wrong section (e.g. server.maxActiveTasks) is still recognised by its name.
    const distance = normalized.split('.').pop() === lastSegment ? 0 : levenshtein(target, normalized);
    if (!best || distance < best.distance) best = { key: candidate, distance };
  }
  return best && best.distance <= Math.max(2, Math.floor(target.length / 5)) ? best.key : undefined;
}

function levenshtein(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const current = [i];
    for (let j = 1; j <= b.length; j++) {
      current[j] = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    previous = current;
  }
  return previous[b.length]!;
}
