export { SSH_HOST_TYPE, SshEndpoint, SshHostConfig, readSshHost } from './host-config';
export { TRUSTED_HOST_KEYS_FILE, fingerprintOf } from './host-keys';
export { SshConnectionPool, SshLease, sshConnections } from './connection-pool';
export { HostKeyMismatchError, SshConnection } from './connection';
export { RemoteShellCommand, runRemoteShell, shellQuote } from './remote-shell';
export { withSshConnection, withSshTargets } from './remote-steps';
export { plugin } from './ssh-host';
