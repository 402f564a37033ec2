import { describeAuthStoreContract } from './auth-store-contract';
import { InMemoryAuthStore } from './in-memory-auth-store';

describeAuthStoreContract('InMemoryAuthStore', {
  open: async () => new InMemoryAuthStore(),
  close: async () => undefined,
});
