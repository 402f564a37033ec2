export { InMemoryAuthStore } from './in-memory-auth-store';
export { describeAuthStoreContract } from './auth-store-contract';
export type { AuthStoreFixture } from './auth-store-contract';
export { FAST_SCRYPT } from './auth-kit';
