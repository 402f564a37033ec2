import { createLogger } from '@shipdeck/logging';
import { ManualClock } from '../testing/manual-clock';
import { ConfigCompatibility, HandBackCounter, LiveMaster, classifyForeignHash, isOddOneOut } from './config-compatibility';

const logger = createLogger({ level: 'error', json: false, name: 'compatibility-test' });

describe('the drain rule (spec §3)', () => {
  it('a worker is the odd one out only when every live master has another hash', () => {
    expect(isOddOneOut('a', ['b', 'c'])).toBe(true);
    expect(isOddOneOut('a', ['b', 'a'])).toBe(false);
    expect(isOddOneOut('a', [])).toBe(false);
  });

  it('a message of another hash is foreign when a live master has it, stale otherwise', () => {
    expect(classifyForeignHash('b', ['a', 'b'])).toBe('foreign');
    expect(classifyForeignHash('z', ['a', 'b'])).toBe('stale');
  });

  describe('ConfigCompatibility', () => {
    function watch(masters: LiveMaster[]) {
      const clock = new ManualClock();
      const reasons: string[] = [];
      const compatibility = new ConfigCompatibility({
        configHash: 'hash-a',
        liveMasters: () => masters,
        settleMs: 5_000,
        clock,
        logger,
        onIncompatible: (reason) => void reasons.push(reason),
      });
      return { clock, reasons, compatibility };
    }

    it('drains once the worker has stayed the odd one out for the settle time, naming the masters', async () => {
      const masters = [{ masterId: 'm1', configHash: 'hash-b' }];
      const { clock, reasons, compatibility } = watch(masters);
      compatibility.check();
      await clock.advance(4_999);
      expect(reasons).toEqual([]);
      await clock.advance(1);
      expect(reasons).toHaveLength(1);
      expect(reasons[0]).toContain("configuration mismatch: this worker's configuration hash hash-a differs from that of every live master (m1: hash-b)");
      compatibility.check();
      await clock.advance(10_000);
      expect(reasons).toHaveLength(1);
    });

    it('does not drain when a master of its configuration shows up within the settle time (start-up, masters restarting)', async () => {
      const masters = [{ masterId: 'm1', configHash: 'hash-b' }];
      const { clock, reasons, compatibility } = watch(masters);
      compatibility.check();
      await clock.advance(1_000);
      masters.push({ masterId: 'm2', configHash: 'hash-a' });
      compatibility.check();
      await clock.advance(10_000);
      expect(reasons).toEqual([]);
      expect(clock.scheduled).toBe(0);
    });

    it('does not drain without any live master, nor after stop()', async () => {
      const masters: LiveMaster[] = [];
      const { clock, reasons, compatibility } = watch(masters);
      compatibility.check();
      masters.push({ masterId: 'm1', configHash: 'hash-b' });
      compatibility.check();
      compatibility.stop();
      await clock.advance(10_000);
      expect(reasons).toEqual([]);
    });
  });

  it('counts deliveries per publication, in bounded memory', () => {
    const counter = new HandBackCounter();
    expect(counter.seen('t', 'p1', 'h')).toBe(1);
    expect(counter.seen('t', 'p1', 'h')).toBe(2);
    expect(counter.seen('t', 'p2', 'h')).toBe(1);
    for (let i = 0; i < 10_001; i++) counter.seen(`other-${i}`, 'p', 'h');
    // The oldest entry was forgotten: it starts again.
    expect(counter.seen('t', 'p1', 'h')).toBe(1);
  });
});
