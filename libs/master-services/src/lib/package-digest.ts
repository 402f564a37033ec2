import { createHash } from 'node:crypto';
import { PackageVersion } from '@shipdeck/domain';

/**
 * The content digest of a package version: `sha256:` + the SHA-256 of its parsed content
 * (application, version, deployables) as canonical JSON, object keys sorted. It is computed from
 * the parsed manifest rather than the uploaded bytes so that the same package sent as YAML or
 * JSON, or re-indented, is the same content; the import time is not content.
 */
export function packageDigest(pkg: Pick<PackageVersion, 'application' | 'version' | 'deployables'>): string {
  const content = canonicalJson({ application: pkg.application, version: pkg.version, deployables: pkg.deployables });
  return `sha256:${createHash('sha256').update(content).digest('hex')}`;
}

/** JSON with object keys in sorted order at every level; `undefined` members are left out as JSON.stringify does. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
