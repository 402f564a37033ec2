import { Stores } from '@shipdeck/persistence';
import { ServerInfo } from './requests';
import { TaskAnnouncer } from './task-announcer';

/** What a master says about itself: its identity and whether it can serve. */
export class ServerService {
  constructor(
    private readonly info: ServerInfo,
    private readonly stores: Pick<Stores, 'ping'>,
    private readonly announcer: Pick<TaskAnnouncer, 'checkReady'>,
  ) {}

  /** This master's version, id and configuration hash. */
  serverInfo(): ServerInfo {
    return this.info;
  }

  /** Resolves when the master can serve (database and queue reachable); throws otherwise. */
  async checkReady(): Promise<void> {
    await this.stores.ping();
    await this.announcer.checkReady();
  }
}
