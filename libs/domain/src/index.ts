export { parseManifest, parseManifestText } from './lib/manifest';
export type { CiTypeCatalog } from './lib/manifest';
export type { Delta, Deployable, Deployed, DeployedApplication, DeploymentKind, Environment, Host, PackageVersion } from './lib/model';
export { MAX_NAME_LENGTH, NAME_PATTERN, VERSION_PATTERN, nameProblem } from './lib/names';
export type { NameKind } from './lib/names';
export { SecretMasker } from './lib/secret-masker';
export {
  SECRETS_KEY_BYTES,
  SECRET_MASK,
  SecretBox,
  SecretUnavailableError,
  holdsSealed,
  keyIdOf,
  maskSealed,
  mapStringsDeep,
  sealedPattern,
  wrongKey,
} from './lib/secrets';
