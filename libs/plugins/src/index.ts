export { createRegistry } from './lib/loader';
export { hostStepType } from './lib/plugin';
export type { DeploymentOperation } from './lib/plugin';
export { PluginRegistry } from './lib/registry';
export { sshConnections } from './lib/ssh/connection-pool';
export { withSecrets } from './lib/secret-steps';
