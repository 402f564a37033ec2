import { parseDuration } from './duration';

describe('parseDuration', () => {
  it.each([
    ['300s', 300_000],
    ['5m', 300_000],
    ['2h', 7_200_000],
    ['250ms', 250],
    ['1.5s', 1_500],
    [' 10 s ', 10_000],
    ['45', 45_000],
    [30, 30_000],
    [0.5, 500],
  ])('reads %p as %p ms', (value, ms) => {
    expect(parseDuration(value)).toBe(ms);
  });

  it.each([['soon'], ['5 minutes'], ['-1s'], [-1], [Number.NaN], [null], [{}], ['1d']])('refuses %p', (value) => {
    expect(parseDuration(value)).toBeUndefined();
  });
});
