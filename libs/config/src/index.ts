export { computeConfigHash } from './lib/config-hash';
export { parseDuration } from './lib/duration';
export { envVarName } from './lib/keys';
export { loadConfig } from './lib/load-config';
export type { ShipdeckConfig, TlsFiles } from './lib/load-config';
export type { TrustProxy } from './lib/parsers';
export { KEY_FILE_MODE, openOrCreateSecretBox, openSecretBox } from './lib/secrets-key';
