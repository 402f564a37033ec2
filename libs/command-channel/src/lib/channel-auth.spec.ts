import { channelKey, newNonce, registerProof, sameMac, welcomeProof } from './channel-auth';

const SECRET = 'a-cluster-secret-of-enough-length-0123';

describe('channel authentication', () => {
  it('gives the same proof for the same secret, nonces and id, another for any change', () => {
    const key = channelKey(SECRET);
    const proof = registerProof(key, 'nm', 'nw', 'worker-1');
    expect(registerProof(channelKey(SECRET), 'nm', 'nw', 'worker-1')).toBe(proof);
    for (const other of [
      registerProof(channelKey(`${SECRET}x`), 'nm', 'nw', 'worker-1'),
      registerProof(key, 'nm2', 'nw', 'worker-1'),
      registerProof(key, 'nm', 'nw2', 'worker-1'),
      registerProof(key, 'nm', 'nw', 'worker-2'),
      // Field boundaries matter: moving a character from one field to the next changes the proof.
      registerProof(key, 'nmn', 'w', 'worker-1'),
    ]) {
      expect(other).not.toBe(proof);
    }
  });

  it('binds the welcome to the master id and its configuration hash, and keeps it apart from a register proof', () => {
    const key = channelKey(SECRET);
    const welcome = welcomeProof(key, 'nm', 'nw', 'worker-1', 'master-1', 'hash-a');
    expect(welcomeProof(key, 'nm', 'nw', 'worker-1', 'master-1', 'hash-b')).not.toBe(welcome);
    expect(welcomeProof(key, 'nm', 'nw', 'worker-1', 'master-2', 'hash-a')).not.toBe(welcome);
    expect(registerProof(key, 'nm', 'nw', 'worker-1')).not.toBe(welcome);
  });

  it('compares MACs of any length without throwing', () => {
    expect(sameMac('abc', 'abc')).toBe(true);
    expect(sameMac('abc', 'abd')).toBe(false);
    expect(sameMac('ab', 'abc')).toBe(false);
  });

  it('makes a fresh nonce each time', () => {
    const nonces = new Set(Array.from({ length: 100 }, () => newNonce()));
    expect(nonces.size).toBe(100);
    expect([...nonces][0]).toMatch(/^[A-Za-z0-9_-]{43}$/);
  });
});
