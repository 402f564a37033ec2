import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin } from '../plugin';
import { SshConnection } from './connection';
import { SSH_HOST_TYPE, SSH_SECRET_PROPERTIES, readSshHost, sshHostConfig } from './host-config';
import { TrustedHostKeys } from './host-keys';
import { withSshConnection } from './remote-steps';
import { runQuick, sudoPrefix } from './remote-shell';

/** Separates the fields of the one-line report of the remote system. */
const FIELD_SEPARATOR = '|';

/**
 * Proves the worker can reach the host: connects (checking the host key), runs a trivial command,
 * checks sudo when the host has a sudo user, and logs the remote OS and user.
 */
async function checkConnection(ctx: StepContext): Promise<void> {
  await withSshConnection(ctx, async (connection, config) => {
    ctx.log(`connected to ${config.username}@${config.address}:${config.port}` +
      `${config.jumpHost ? ` through ${config.jumpHost.address}:${config.jumpHost.port}` : ''}; ` +
      `host key ${connection.hostKey.fingerprint} (${connection.hostKey.keyType}) verified\n`);
    const report = await runQuick(connection, `printf '%s|%s|%s|%s\\n' "$(uname -s)" "$(uname -r)" "$(uname -m)" "$(id -un)"`);
    const [os, release, machine, user] = report.trim().split(FIELD_SEPARATOR);
    ctx.log(`remote OS ${os} ${release} (${machine}), user ${user}\n`);
    if (config.sudo !== undefined) {
      const sudoUser = (await runQuick(connection, `${sudoPrefix(config.sudo)}id -un`).catch((error: Error) => {
        throw new Error(`sudo to ${config.sudo} does not work without a password on ${ctx.step.target.name}: ${error.message}`);
      })).trim();
      ctx.log(`sudo to ${config.sudo}: runs as ${sudoUser}\n`);
    }
  });
}

/**
 * Shows the host key the host presents and, when the control's `fingerprint` parameter repeats
 * it, records it as trusted by this worker. Showing comes first on purpose: the operator compares
 * the key with the one the machine's owner gives out (`ssh-keygen -lf /etc/ssh/ssh_host_*.pub`)
 * before confirming it. A host with `hostKeyFingerprint` does not need this.
 */
async function trustHostKey(ctx: StepContext): Promise<void> {
  const hostName = ctx.step.target.name;
  const config = sshHostConfig(hostName, ctx.step.target.properties);
  const confirmed = ctx.step.properties.fingerprint;
  if (confirmed !== undefined && typeof confirmed !== 'string') throw new Error('parameter fingerprint must be a string');
  const presented = await SshConnection.presentedKey(config, { hostName, workDir: ctx.workDir, signal: ctx.signal });
  ctx.log(`${config.address}:${config.port} presents host key ${presented.fingerprint} (${presented.keyType})\n`);
  if (config.hostKeyFingerprint !== undefined) {
    const verdict = config.hostKeyFingerprint === presented.fingerprint ? 'matches' : 'does NOT match';
    ctx.log(`it ${verdict} the host's hostKeyFingerprint ${config.hostKeyFingerprint}, which is what connections check\n`);
    return;
  }
  if (confirmed === undefined) {
    ctx.log(`nothing recorded: compare the key, then run trust-host-key again with parameter fingerprint: ${presented.fingerprint}\n`);
    return;
  }
  if (confirmed !== presented.fingerprint) {
    throw new Error(`the host presents ${presented.fingerprint}, not the confirmed ${confirmed}: nothing recorded`);
  }
  await new TrustedHostKeys(ctx.workDir).set(config.address, config.port, presented.fingerprint);
  ctx.log(`recorded ${presented.fingerprint} as the trusted key of ${config.address}:${config.port} on this worker\n`);
}

/**
 * The `ssh` host type: a machine the worker reaches over SSH. Controls `checkConnection` and
 * `trust-host-key`; the built-in step types run on it through the worker's connection pool.
 */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-ssh-host',
  hostTypes: [
    {
      name: SSH_HOST_TYPE,
      controls: { checkConnection, 'trust-host-key': trustHostKey },
      validate: (properties, fieldPrefix) => readSshHost(properties, fieldPrefix, true).errors,
      secretProperties: SSH_SECRET_PROPERTIES,
    },
  ],
};
