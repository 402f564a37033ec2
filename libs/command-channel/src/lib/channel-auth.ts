import { KeyObject, createHmac, createSecretKey, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * HMAC challenge/response over the cluster secret (`cluster.secret`), for a command channel
 * without mutual TLS. Both ends prove that they know the secret, each over a nonce the other
 * chose, so that neither a recorded exchange nor a party without the secret gets through:
 *
 * 1. master → worker `hello { nonce: Nm, hmac: true }` as soon as the connection is up;
 * 2. worker → master `register { registration, proof: { nonce: Nw, mac } }`, where `mac` covers
 *    Nm, Nw and the worker id;
 * 3. master → worker `welcome { masterId, configHash, proof }`, where `proof` covers Nm, Nw, the
 *    worker id, the master id and its configuration hash (the worker drains on what masters say
 *    their hash is, so that hash must come from a master of the cluster).
 *
 * The secret itself never travels and is never logged; the channel uses a key derived from it,
 * distinct from the key that signs task messages.
 */

/** Random bytes of a nonce (base64url: 43 characters). */
const NONCE_BYTES = 32;

/** A fresh nonce for one handshake. */
export function newNonce(): string {
  return randomBytes(NONCE_BYTES).toString('base64url');
}

/** The channel's key, derived from the cluster secret. */
export function channelKey(secret: string): KeyObject {
  return createSecretKey(new Uint8Array(createHmac('sha256', secret).update('shipdeck command channel v1').digest()));
}

/** The worker's proof in its first `register`. */
export function registerProof(key: KeyObject, masterNonce: string, workerNonce: string, workerId: string): string {
  return mac(key, ['register', masterNonce, workerNonce, workerId]);
}

/** The master's proof in its `welcome`, covering what it tells the worker about itself. */
export function welcomeProof(
  key: KeyObject,
  masterNonce: string,
  workerNonce: string,
  workerId: string,
  masterId: string,
  configHash: string,
): string {
  return mac(key, ['welcome', masterNonce, workerNonce, workerId, masterId, configHash]);
}

/** Compares a received MAC with the expected one in constant time. */
export function sameMac(received: string, expected: string): boolean {
  const a = new Uint8Array(Buffer.from(received, 'utf8'));
  const b = new Uint8Array(Buffer.from(expected, 'utf8'));
  return a.length === b.length && timingSafeEqual(a, b);
}

function mac(key: KeyObject, fields: readonly string[]): string {
  // A JSON array keeps the fields apart: no choice of values makes two lists encode alike.
  return createHmac('sha256', key).update(JSON.stringify(fields)).digest('base64url');
}
