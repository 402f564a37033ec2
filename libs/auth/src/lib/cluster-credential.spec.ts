import { CLUSTER_CREDENTIAL_WINDOW_MS, clusterCredential, verifyClusterCredential } from './cluster-credential';

describe('cluster credential', () => {
  const now = 1_764_547_200_000;

  it('is accepted with the same secret inside the window', () => {
    expect(verifyClusterCredential('s3cret-s3cret', clusterCredential('s3cret-s3cret', now), now + 1000)).toBe(true);
  });

  it('is refused with another secret', () => {
    expect(verifyClusterCredential('other-secret', clusterCredential('s3cret-s3cret', now), now)).toBe(false);
  });

  it('is refused outside the window, so it cannot be replayed later', () => {
    const credential = clusterCredential('s3cret-s3cret', now);
    expect(verifyClusterCredential('s3cret-s3cret', credential, now + CLUSTER_CREDENTIAL_WINDOW_MS + 1)).toBe(false);
  });

  it('is refused when its time was changed', () => {
    const [, mac] = clusterCredential('s3cret-s3cret', now).split('.');
    expect(verifyClusterCredential('s3cret-s3cret', `${now + 1}.${mac}`, now)).toBe(false);
  });

  it.each(['', 'abc', `${now}.zz`, `${now}.${'a'.repeat(63)}`])('is refused when malformed: %p', (credential) => {
    expect(verifyClusterCredential('s3cret-s3cret', credential, now)).toBe(false);
  });
});
