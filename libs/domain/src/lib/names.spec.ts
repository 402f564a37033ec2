import { MAX_NAME_LENGTH, isValidName, nameProblem } from './names';

describe('name rules (spec §1)', () => {
  it.each(['petclinic', 'a', 'A1', 'web-01.example_com', '9lives', 'x'.repeat(MAX_NAME_LENGTH)])('accepts the name %j', (name) => {
    expect(nameProblem(name)).toBeUndefined();
  });

  it.each([
    ['', 'must not be empty'],
    ['x'.repeat(MAX_NAME_LENGTH + 1), 'must be at most 128 characters (got 129)'],
    ['..', 'must not contain ".."'],
    ['a..b', 'must not contain ".."'],
    ['.hidden', 'may contain only'],
    ['-rf', 'may contain only'],
    ['_x', 'may contain only'],
    ['a b', 'may contain only'],
    ['   ', 'may contain only'],
    ['a/b', 'may contain only'],
    ['a\nb', 'may contain only'],
    ['a\u0000b', 'may contain only'],
    ['a\u202Eb', 'may contain only'],
    ['naïve', 'may contain only'],
    ['1.0+build', 'may contain only'],
    ['__proto__', 'may contain only'],
  ])('refuses the name %j', (name, problem) => {
    expect(nameProblem(name)).toContain(problem);
  });

  it('refuses what is not a string', () => {
    expect(nameProblem(42)).toBe('must be a string');
    expect(isValidName(null)).toBe(false);
  });

  it('lets versions also contain "+"', () => {
    expect(nameProblem('1.0.0+build.5', 'version')).toBeUndefined();
    expect(nameProblem('+1', 'version')).toContain('may contain only');
  });

  it('never repeats the value in its message', () => {
    const hostile = `evil\u202E${'y'.repeat(200)}`;
    expect(nameProblem(hostile)).not.toContain('evil');
  });
});
