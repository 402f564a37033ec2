import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';

/** What the API shows instead of a secret value, to every user. */
export const SECRET_MASK = '******';

/** Bytes of a secrets key (AES-256). */
export const SECRETS_KEY_BYTES = 32;

const IV_BYTES = 12;
const TAG_BYTES = 16;
/** Binds a ciphertext to this format: a token of another use or version cannot be replayed here. */
const AAD = new Uint8Array(Buffer.from('shipdeck-sealed-v1', 'utf8'));

/**
 * A sealed value as it is stored and travels in plans: `<<sealed:v1:KEYID:DATA>>`, KEYID the
 * {@link SecretBox.keyId} of the key that sealed it, DATA base64url of IV, GCM tag and ciphertext.
 * It can stand alone or inside a longer string (a placeholder in a URL).
 */
const SEALED_SOURCE = '<<sealed:v1:([0-9a-f]{8}):([A-Za-z0-9_-]+)>>';
const SEALED_START = '<<sealed:';

/** Matches every sealed value in a string (global: reset `lastIndex` or use `replace`). */
export function sealedPattern(): RegExp {
  return new RegExp(SEALED_SOURCE, 'g');
}

/** Whether `value` is a string that holds a sealed value. */
export function holdsSealed(value: unknown): value is string {
  return typeof value === 'string' && value.includes(SEALED_START) && new RegExp(SEALED_SOURCE).test(value);
}

/** `value` with every sealed value in it replaced by {@link SECRET_MASK}. */
export function maskSealed(value: string): string {
  // Every string of every answer passes here: the cheap test first.
  return value.includes(SEALED_START) ? value.replace(sealedPattern(), SECRET_MASK) : value;
}

/** A deep copy of JSON-like `value` (lists and plain objects) with `map` applied to every string in it. */
export function mapStringsDeep<T>(value: T, map: (text: string) => string): T {
  if (typeof value === 'string') return map(value) as T;
  if (Array.isArray(value)) return value.map((item) => mapStringsDeep(item, map)) as T;
  if (typeof value === 'object' && value !== null && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, mapStringsDeep(v, map)])) as T;
  }
  return value;
}

/** A sealed value could not be opened: no key, another key, or a damaged value. */
export class SecretUnavailableError extends Error {
  override readonly name = 'SecretUnavailableError';
}

/**
 * AES-256-GCM sealing of secret values with one key: masters seal what users mark secret
 * (dictionary entries, ssh passwords and keys) before storing it; workers open it right before a
 * step runs. Every master and worker of a cluster needs the same key.
 */
export class SecretBox {
  /** First 8 hex digits of the key's SHA-256: names the key in sealed values and messages, reveals nothing of it. */
  readonly keyId: string;

  private readonly key: Uint8Array;

  constructor(key: Uint8Array) {
    if (key.length !== SECRETS_KEY_BYTES) throw new Error(`a secrets key has ${SECRETS_KEY_BYTES} bytes, not ${key.length}`);
    this.key = new Uint8Array(key);
    this.keyId = keyIdOf(key);
  }

  /** A sealed value of `plaintext`; a fresh IV each time, so equal values seal differently. */
  seal(plaintext: string): string {
    const iv = new Uint8Array(randomBytes(IV_BYTES));
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    cipher.setAAD(AAD);
    const parts = [iv, cipher.update(plaintext, 'utf8'), cipher.final(), cipher.getAuthTag()].map((part) => new Uint8Array(part));
    // IV, tag, ciphertext.
    const blob = Buffer.concat([parts[0], parts[3], parts[1], parts[2]]).toString('base64url');
    return `<<sealed:v1:${this.keyId}:${blob}>>`;
  }

  /**
   * The plaintext of one sealed value (the whole of `sealed`).
   *
   * @throws SecretUnavailableError when it was sealed with another key or is damaged.
   */
  open(sealed: string): string {
    const match = new RegExp(`^${SEALED_SOURCE}$`).exec(sealed);
    if (!match) throw new SecretUnavailableError('not a sealed value');
    return this.openParts(match[1], match[2]);
  }

  /**
   * `value` with every sealed value in it opened, and the plaintexts opened (for masking).
   *
   * @throws SecretUnavailableError naming the key a value needs when it cannot be opened.
   */
  openAll(value: string, opened: Set<string>): string {
    return value.replace(sealedPattern(), (_all, keyId: string, blob: string) => {
      const plaintext = this.openParts(keyId, blob);
      opened.add(plaintext);
      return plaintext;
    });
  }

  private openParts(keyId: string, blob: string): string {
    if (keyId !== this.keyId) throw wrongKey(keyId, this.keyId);
    const bytes = new Uint8Array(Buffer.from(blob, 'base64url'));
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, bytes.subarray(0, IV_BYTES));
      decipher.setAAD(AAD);
      decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      const text = decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES), undefined, 'utf8');
      return text + decipher.final('utf8');
    } catch {
      throw new SecretUnavailableError(`a secret sealed with secrets key ${keyId} is damaged and cannot be decrypted`);
    }
  }
}

/** The {@link SecretBox.keyId} of a key. */
export function keyIdOf(key: Uint8Array): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 8);
}

/** Why a sealed value cannot be opened by a process with `ownKeyId` (null: it has no key). */
export function wrongKey(neededKeyId: string, ownKeyId: string | null): SecretUnavailableError {
  const own = ownKeyId === null ? 'this process has no secrets key' : `this process has secrets key ${ownKeyId}`;
  return new SecretUnavailableError(
    `a secret was sealed with secrets key ${neededKeyId}, but ${own}: give every master and worker the same key ` +
      '(secrets.key / SHIPDECK_SECRETS_KEY, or the same secrets.keyFile)',
  );
}
