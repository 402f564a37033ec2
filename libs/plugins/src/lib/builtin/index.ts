import { ShipdeckPlugin } from '../plugin';
import { plugin as command } from './command';
import { plugin as file } from './file';
import { plugin as httpCheck } from './http-check';
import { plugin as localHost } from './local-host';
import { plugin as sshHost, withSshTargets } from '../ssh';

/** The plugins every registry starts with, registered like external ones. */
export const BUILTIN_PLUGINS: readonly ShipdeckPlugin[] = [file, command, httpCheck, localHost, sshHost].map(withSshTargets);
