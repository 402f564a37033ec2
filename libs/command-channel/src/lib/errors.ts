import { NotReadyError } from '@shipdeck/errors';

/** Why a command did not get its reply. */
export type CommandFailure = 'timeout' | 'closed';

/**
 * A command that got no reply: the worker did not answer in time, or its channel closed first.
 * Retryable (HTTP 503): the worker may answer once it is back.
 */
export class CommandChannelError extends NotReadyError {
  constructor(
    message: string,
    readonly failure: CommandFailure,
    readonly workerId: string,
  ) {
    super(message);
  }
}
