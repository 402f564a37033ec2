import { LineCounter, parseDocument } from 'yaml';
import { ErrorCode, FieldError, InputClass, ValidationError, inputErrors } from '@shipdeck/errors';
import { COMMON_DEPLOYABLE_FIELDS, DeployableShape, ManifestShape } from './manifest-shape';
import { Deployable, PackageVersion } from './model';

/**
 * The CI types a manifest may use and their type-specific rules. The plugin registry implements
 * it; the domain only knows this interface so that it does not depend on plugins.
 */
export interface CiTypeCatalog {
  /** Whether a CI type of this name is registered. */
  has(type: string): boolean;
  /**
   * Checks the type-specific properties of a deployable (everything but name, type, tags, order).
   * Each error names its field under `fieldPrefix`, e.g. `deployables[1].targetPath`.
   */
  validate(type: string, properties: Record<string, unknown>, fieldPrefix: string): FieldError[];
}

/**
 * Validates a parsed manifest (any value, e.g. a JSON body) and turns it into a package version.
 *
 * Every problem is collected and reported in one {@link ValidationError} with one detail per
 * invalid field (`application`, `deployables[2].type`, `deployables[0].targetPath`…). Fields other
 * than `name`, `type`, `tags` and `order` go, unchanged, into the deployable's `properties`;
 * placeholders are left for the planner to resolve. `order` stays undefined when not given (the
 * CI type's default then applies).
 */
export function parseManifest(raw: unknown, types: CiTypeCatalog): PackageVersion {
  if (!isRecord(raw)) {
    throw invalid([{ field: 'manifest', message: 'must be an object with application, version and deployables' }]);
  }
  const errors = shapeErrors(ManifestShape, pick(raw, ['application', 'version', 'deployables']));
  const deployables = Array.isArray(raw.deployables) ? parseDeployables(raw.deployables, types, errors) : [];
  if (errors.length > 0) throw invalid(errors);
  return { application: raw.application as string, version: raw.version as string, deployables };
}

/**
 * Parses manifest text, YAML or JSON as `contentType` says (parameters such as `charset` are
 * ignored). Without `types` it answers the parsed document, to be checked by
 * {@link parseManifest}; with `types` it does both.
 *
 * @throws ValidationError code MALFORMED_BODY when the text does not parse, UNSUPPORTED_MEDIA_TYPE
 *   when the content type is neither JSON nor YAML.
 */
export function parseManifestText(text: string, contentType: string): unknown;
export function parseManifestText(text: string, contentType: string, types: CiTypeCatalog): PackageVersion;
export function parseManifestText(text: string, contentType: string, types?: CiTypeCatalog): unknown {
  const raw = parseText(text, contentType);
  return types ? parseManifest(raw, types) : raw;
}

function parseText(text: string, contentType: string): unknown {
  const format = manifestFormat(contentType);
  if (format === 'json') {
    try {
      return JSON.parse(text) as unknown;
    } catch (error) {
      throw malformed('JSON', error instanceof Error ? error.message : String(error));
    }
  }
  if (format === 'yaml') {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false, lineCounter });
    if (doc.errors.length > 0) {
      const details = doc.errors.map((e) => {
        const { line, col } = lineCounter.linePos(e.pos[0]);
        const message = e.code === 'MULTIPLE_DOCS' ? 'a manifest is a single YAML document' : e.message.split('\n')[0];
        return { field: 'body', message: `line ${line}, column ${col}: ${message}` };
      });
      throw new ValidationError(`manifest is not valid YAML: ${details[0].message}`, details, ErrorCode.MALFORMED_BODY);
    }
    try {
      return doc.toJS({ maxAliasCount: 100 }) as unknown;
    } catch (error) {
      // Only alias abuse ("billion laughs") fails here.
      throw malformed('YAML', error instanceof Error ? error.message : String(error));
    }
  }
  throw new ValidationError(
    `manifest content type must be JSON or YAML, got ${JSON.stringify(contentType)}`,
    [{ field: 'Content-Type', message: 'must be application/json or application/yaml' }],
    ErrorCode.UNSUPPORTED_MEDIA_TYPE,
  );
}

function manifestFormat(contentType: string): 'json' | 'yaml' | undefined {
  const mediaType = contentType.split(';')[0].trim().toLowerCase();
  if (/^(application|text)\/((x-)?json|[a-z0-9.+-]+\+json)$/.test(mediaType)) return 'json';
  if (/^(application|text)\/((x-)?ya?ml|[a-z0-9.+-]+\+yaml)$/.test(mediaType)) return 'yaml';
  return undefined;
}

function malformed(format: string, message: string): ValidationError {
  return new ValidationError(
    `manifest is not valid ${format}: ${message}`,
    [{ field: 'body', message }],
    ErrorCode.MALFORMED_BODY,
  );
}

function parseDeployables(items: unknown[], types: CiTypeCatalog, errors: FieldError[]): Deployable[] {
  const firstIndexOfName = new Map<string, number>();
  const deployables: Deployable[] = [];
  items.forEach((item, i) => {
    const prefix = `deployables[${i}]`;
    if (!isRecord(item)) {
      errors.push({ field: prefix, message: 'must be an object with at least name and type' });
      return;
    }
    errors.push(...shapeErrors(DeployableShape, pick(item, COMMON_DEPLOYABLE_FIELDS), prefix));

    if (typeof item.name === 'string' && item.name !== '') {
      const first = firstIndexOfName.get(item.name);
      if (first === undefined) firstIndexOfName.set(item.name, i);
      else errors.push({ field: `${prefix}.name`, message: `duplicate name "${item.name}" (also deployables[${first}])` });
    }

    const properties = omit(item, COMMON_DEPLOYABLE_FIELDS);
    if (typeof item.type === 'string' && item.type !== '') {
      if (types.has(item.type)) errors.push(...types.validate(item.type, properties, prefix));
      else errors.push({ field: `${prefix}.type`, message: `unknown type "${item.type}"` });
    }

    const deployable: Deployable = {
      name: item.name as string,
      type: item.type as string,
      tags: Array.isArray(item.tags) ? [...(item.tags as string[])] : [],
      properties,
    };
    if (typeof item.order === 'number') deployable.order = item.order;
    deployables.push(deployable);
  });
  return deployables;
}

/** The common fields' problems; only the first of each field (the shapes order their rules for that). */
function shapeErrors(shape: InputClass<object>, fields: Record<string, unknown>, field?: string): FieldError[] {
  return inputErrors(shape, fields, { forbidUnknown: false, stopAtFirstError: true, field }).errors;
}

function invalid(details: FieldError[]): ValidationError {
  const [first] = details;
  const more = details.length > 1 ? ` (and ${details.length - 1} more)` : '';
  return new ValidationError(`invalid manifest: ${first.field} ${first.message}${more}`, details);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function pick(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => Object.hasOwn(source, k)).map((k) => [k, source[k]]));
}

function omit(source: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(source).filter(([k]) => !keys.includes(k)));
}
