/**
 * The credentials every process-level test runs with: masters create `admin` with this password
 * at their first start, and workers and masters share this cluster secret. The REST client sends
 * the admin's basic credentials unless a test says otherwise.
 */
export const TEST_ADMIN_PASSWORD = 'shipdeck-test-admin-password';
export const TEST_CLUSTER_SECRET = 'shipdeck-test-cluster-secret-0123456789abcdef';

/** The SHIPDECK_* variables that carry them; every spawned process gets them unless its test overrides them. */
export const TEST_CREDENTIALS_ENV: Readonly<Record<string, string>> = {
  SHIPDECK_ADMIN_PASSWORD: TEST_ADMIN_PASSWORD,
  SHIPDECK_CLUSTER_SECRET: TEST_CLUSTER_SECRET,
};

/** `Authorization` header of the admin. */
export const ADMIN_AUTHORIZATION = `Basic ${Buffer.from(`admin:${TEST_ADMIN_PASSWORD}`).toString('base64')}`;
