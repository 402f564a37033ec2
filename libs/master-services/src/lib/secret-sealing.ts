import { Environment, Host, SECRET_MASK, SecretBox, SecretUnavailableError } from '@shipdeck/domain';
import { FieldError, ValidationError } from '@shipdeck/errors';

/**
 * Seals the secrets a client sent before they are stored. A value equal to {@link SECRET_MASK}
 * (what the API shows) keeps the stored one, so a client may send back what it read; a value
 * equal to the stored one keeps its sealed form, so that saving an environment unchanged does not
 * turn its deployeds into MODIFY steps.
 */
export class SecretSealing {
  /** @param box null when this master has no secrets key: sending a secret is then refused. */
  constructor(private readonly box: SecretBox | null) {}

  /**
   * The environment to store: `secrets` sealed.
   *
   * @throws ValidationError naming `secrets.KEY` for a key also in the dictionary or a mask without a stored value.
   */
  environment(incoming: Environment, stored: Environment | null): Environment {
    const errors: FieldError[] = [];
    const secrets: Record<string, string> = {};
    for (const [key, value] of Object.entries(incoming.secrets ?? {})) {
      const field = `secrets.${key}`;
      if (Object.hasOwn(incoming.dictionary, key)) {
        errors.push({ field, message: `${key} is in dictionary too; a key is either plain or secret` });
        continue;
      }
      const sealed = this.sealOne(field, value, stored?.secrets?.[key], errors);
      if (sealed !== undefined) secrets[key] = sealed;
    }
    if (errors.length > 0) throw new ValidationError(`environment ${incoming.name} has invalid secrets`, errors);
    return { ...incoming, secrets };
  }

  /**
   * The host to store: the properties its type declares secret sealed.
   *
   * @throws ValidationError naming the property for a mask without a stored value, or a secret that is not a string.
   */
  host(incoming: Host, secretPaths: readonly string[], stored: Host | null): Host {
    const errors: FieldError[] = [];
    const properties = structuredClone(incoming.properties);
    for (const path of secretPaths) {
      const parent = parentOf(properties, path);
      const name = path.slice(path.lastIndexOf('.') + 1);
      if (!parent || !Object.hasOwn(parent, name) || parent[name] === undefined || parent[name] === null) continue;
      const field = `properties.${path}`;
      const value = parent[name];
      if (typeof value !== 'string') {
        errors.push({ field, message: 'must be a string' });
        continue;
      }
      const previous = stored && stored.type === incoming.type ? parentOf(stored.properties, path)?.[name] : undefined;
      const sealed = this.sealOne(field, value, typeof previous === 'string' ? previous : undefined, errors);
      if (sealed !== undefined) parent[name] = sealed;
    }
    if (errors.length > 0) throw new ValidationError(`host ${incoming.name} has invalid secret properties`, errors);
    return { ...incoming, properties };
  }

  private sealOne(field: string, value: string, stored: string | undefined, errors: FieldError[]): string | undefined {
    if (value === SECRET_MASK) {
      if (stored !== undefined) return stored;
      errors.push({ field, message: `is the mask ${SECRET_MASK} but nothing is stored under it; give the value` });
      return undefined;
    }
    if (!this.box) {
      errors.push({ field, message: 'this master has no secrets key (secrets.key or secrets.keyFile), so it cannot store secrets' });
      return undefined;
    }
    if (stored !== undefined && this.opens(stored) === value) return stored;
    return this.box.seal(value);
  }

  private opens(sealed: string): string | undefined {
    try {
      return this.box?.open(sealed);
    } catch (error) {
      if (error instanceof SecretUnavailableError) return undefined;
      throw error;
    }
  }
}

/** The object holding the last segment of a dotted `path`, or undefined when the way there is not objects. */
function parentOf(root: Record<string, unknown>, path: string): Record<string, unknown> | undefined {
  let node: unknown = root;
  for (const segment of path.split('.').slice(0, -1)) {
    if (typeof node !== 'object' || node === null || Array.isArray(node) || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return typeof node === 'object' && node !== null && !Array.isArray(node) ? (node as Record<string, unknown>) : undefined;
}
