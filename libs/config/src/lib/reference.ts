import { CONFIG_KEYS, envVarName, KeySpec } from './keys';

/** Where {@link renderConfigReference}'s output is kept, relative to the repository root. */
export const CONFIG_REFERENCE_PATH = 'docs/configuration.md';

/** Defaults computed at start, said in words. */
const COMPUTED_DEFAULTS: Record<string, string> = { 'server.hostname': "the machine's name" };

function describeDefault(name: string, spec: KeySpec<unknown>): string {
  if (typeof spec.default === 'function') return COMPUTED_DEFAULTS[name] ?? 'computed at start';
  if (spec.default === null) return 'not set';
  if (Array.isArray(spec.default) && spec.default.length === 0) return 'empty';
  return `\`${typeof spec.default === 'string' ? spec.default : JSON.stringify(spec.default)}\``;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ');
}

/**
 * The reference of every configuration key (docs/configuration.md), generated from
 * {@link CONFIG_KEYS} so that it cannot drift: `npm run docs:config` writes it, and a unit test
 * fails while the file differs from this.
 */
export function renderConfigReference(): string {
  const rows = Object.entries(CONFIG_KEYS).map(
    ([name, spec]) =>
      `| \`${name}\` | \`${envVarName(name)}\` | ${describeDefault(name, spec as KeySpec<unknown>)} | ${cell(spec.description)}${
        (spec as KeySpec<unknown>).secret ? ' (secret: never shown in errors or logs)' : ''
      } |`,
  );
  return [
    '# Configuration reference',
    '',
    '<!-- Generated from libs/config/src/lib/keys.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Every key is read from `conf/shipdeck.yaml` (nested mappings: `server.port` is `port:` under',
    '`server:`) and can be overridden by its environment variable. An invalid value stops the',
    'process at start with one message naming the key (exit code 78). `conf/shipdeck.yaml` shows',
    'each key with its default and a comment.',
    '',
    '| key | environment variable | default | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
