const DURATION = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h)?$/;
const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/**
 * The one duration syntax of Shipdeck (configuration keys and step properties): `250ms`, `300s`,
 * `5m`, `2h`, or a number of seconds (`45`, `1.5`, also as a number). Answers milliseconds, not
 * rounded; undefined when the value is none of these (negative and non-finite numbers included).
 */
export function parseDuration(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value >= 0 ? value * 1000 : undefined;
  if (typeof value !== 'string') return undefined;
  const match = DURATION.exec(value.trim());
  if (!match) return undefined;
  return Number(match[1]) * UNIT_MS[match[2] ?? 's']!;
}
