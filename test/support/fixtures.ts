import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { REPO_ROOT } from './shipdeck-process';

/** A deployable as a manifest writes it (only what the tests look at). */
export interface ManifestDeployable {
  name: string;
  type: string;
  tags?: string[];
  [property: string]: unknown;
}

export interface Manifest {
  application: string;
  version: string;
  deployables: ManifestDeployable[];
}

export interface ExamplePackage {
  /** The manifest text as posted (YAML). */
  yaml: string;
  manifest: Manifest;
  /** The file it was read from. */
  source: string;
}

/** The petclinic example package of the given version, examples/petclinic/<version>.yaml. */
export function petclinic(version: '1.0.0' | '2.0.0'): ExamplePackage {
  const file = join(REPO_ROOT, 'examples', 'petclinic', `${version}.yaml`);
  if (!existsSync(file)) throw new Error(`the example package ${file} is missing`);
  const yaml = readFileSync(file, 'utf8');
  return { yaml, manifest: parse(yaml) as Manifest, source: file };
}

/** Replaces every `{{KEY}}` with the dictionary's value; fails on a key it does not have. */
export function resolvePlaceholders(text: string, dictionary: Record<string, string>): string {
  return text.replace(/\{\{\s*([^}\s]+)\s*\}\}/g, (_m, key: string) => {
    if (!(key in dictionary)) throw new Error(`test data uses placeholder ${key}, which the test dictionary lacks`);
    return dictionary[key];
  });
}

/** Every placeholder key used anywhere in a manifest text. */
export function placeholdersOf(yaml: string): string[] {
  return [...new Set([...yaml.matchAll(/\{\{\s*([^}\s]+)\s*\}\}/g)].map((m) => m[1]))];
}

/** Whether two deployables are the same definition (key order does not matter). */
export function sameDeployable(a: ManifestDeployable, b: ManifestDeployable): boolean {
  return canonical(a) === canonical(b);
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : 1));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** A manifest as YAML text, versions quoted as a person would write them. */
export function manifestYaml(manifest: Manifest): string {
  return stringify(manifest, { defaultStringType: 'QUOTE_DOUBLE', defaultKeyType: 'PLAIN' });
}
