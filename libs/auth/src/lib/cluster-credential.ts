import { createHmac, timingSafeEqual } from 'node:crypto';

/** The `Authorization` scheme with which workers call the master API (`-api`). */
export const CLUSTER_SCHEME = 'Cluster';

/** How far a credential's time may be from the master's clock: it cannot be replayed for longer. */
export const CLUSTER_CREDENTIAL_WINDOW_MS = 5 * 60_000;

/**
 * The credential a worker sends to the master API: `<unix ms>.<HMAC-SHA256(secret, "shipdeck-worker-api:" + ms)>`.
 * Proves knowledge of the cluster secret without sending it; valid for {@link CLUSTER_CREDENTIAL_WINDOW_MS}.
 */
export function clusterCredential(secret: string, nowMs: number = Date.now()): string {
  return `${nowMs}.${mac(secret, nowMs)}`;
}

/** The `Authorization` header value carrying {@link clusterCredential}. */
export function clusterAuthorization(secret: string, nowMs: number = Date.now()): string {
  return `${CLUSTER_SCHEME} ${clusterCredential(secret, nowMs)}`;
}

/** Whether `credential` was made with `secret` within the window around `nowMs`. */
export function verifyClusterCredential(secret: string, credential: string, nowMs: number): boolean {
  const match = /^(\d{1,16})\.([0-9a-f]{64})$/.exec(credential);
  if (!match) return false;
  const at = Number(match[1]);
  if (Math.abs(nowMs - at) > CLUSTER_CREDENTIAL_WINDOW_MS) return false;
  return timingSafeEqual(new Uint8Array(Buffer.from(match[2]!, 'hex')), new Uint8Array(Buffer.from(mac(secret, at), 'hex')));
}

function mac(secret: string, at: number): string {
  return createHmac('sha256', secret).update(`shipdeck-worker-api:${at}`).digest('hex');
}
