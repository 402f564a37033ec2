import { copyJson, jsonEqual } from './json';

describe('jsonEqual', () => {
  it('compares deeply, ignoring key order, prototypes and undefined members', () => {
    expect(jsonEqual({ a: [1, { b: 'x' }], c: null }, { c: null, a: [1, { b: 'x' }] })).toBe(true);
    expect(jsonEqual(Object.assign(Object.create(null), { a: 1 }), { a: 1 })).toBe(true);
    expect(jsonEqual({ a: 1, u: undefined }, { a: 1 })).toBe(true);
  });

  it('tells differences apart', () => {
    expect(jsonEqual({ a: 1 }, { a: '1' })).toBe(false);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
    expect(jsonEqual({ a: {} }, { a: [] })).toBe(false);
    expect(jsonEqual({ a: 1 }, { a: 1, b: 2 })).toBe(false);
    expect(jsonEqual({ a: null }, { a: {} })).toBe(false);
  });
});

describe('copyJson', () => {
  it('copies without sharing objects', () => {
    const original = { a: [{ b: 1 }], c: 'x' };
    const copy = copyJson(original);
    expect(copy).toEqual(original);
    expect(copy.a).not.toBe(original.a);
    expect(copy.a[0]).not.toBe(original.a[0]);
  });
});
