export * from './lib/plugin';
export * from './lib/registry';
export * from './lib/loader';
export * from './lib/shell';
export * from './lib/placeholders';
export { BUILTIN_PLUGINS } from './lib/builtin';
export { SSH_HOST_TYPE, SshHostConfig, readSshHost, sshConnections, fingerprintOf } from './lib/ssh';
