import { CHANNEL_PROTOCOL_VERSION, CommandReply, MasterInfo, WorkerCommand, WorkerRegistration } from '@shipdeck/command-channel';
import { WorkerRuntime } from '@shipdeck/worker-runtime';

/** What a worker tells masters about itself besides what its runtime knows. */
export interface WorkerIdentity {
  name: string;
  /** `hostname:port` of the worker's own HTTP port. */
  address: string;
  configHash: string;
  capacity: number;
}

/** The registration a worker sends every master at each (re)connect and state change. */
export function registrationOf(runtime: WorkerRuntime, identity: WorkerIdentity): WorkerRegistration {
  return {
    protocolVersion: CHANNEL_PROTOCOL_VERSION,
    workerId: runtime.workerId,
    ...identity,
    // A worker still starting counts as RUNNING: it is about to take tasks.
    state: runtime.state === 'DRAINING' || runtime.state === 'CLOSED' ? 'DRAINING' : 'RUNNING',
    tasks: runtime.heldTasks,
  };
}

/** Carries out a master's command on this worker's runtime and says what happened. */
export async function executeWorkerCommand(
  runtime: WorkerRuntime,
  command: WorkerCommand,
  master: MasterInfo,
): Promise<CommandReply> {
  switch (command.kind) {
    case 'stop':
    case 'abort': {
      const applied = runtime[command.kind](command.taskId);
      return applied
        ? { ok: true, message: `${command.kind} of task ${command.taskId} applied` }
        : { ok: false, message: `task ${command.taskId} is not executing on worker ${runtime.workerId}` };
    }
    case 'drain': {
      const running = runtime.runningTaskIds.length;
      void runtime.drain(`drain requested through master ${master.masterId}`);
      return { ok: true, message: `worker ${runtime.workerId} is draining: ${running} running task(s) to finish, then it exits` };
    }
    case 'restoreGhostTasks': {
      const restored = await runtime.restoreGhostTasks();
      return { ok: true, message: `${restored.length} ghost task(s) registered again`, data: restored };
    }
  }
}
