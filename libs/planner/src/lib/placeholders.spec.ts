import { FieldError } from '@shipdeck/errors';
import { resolvePlaceholders } from './placeholders';

describe('resolvePlaceholders', () => {
  it('leaves non-strings alone and does not resolve dictionary values again', () => {
    const errors: FieldError[] = [];
    expect(resolvePlaceholders({ n: 1, b: true, z: null, s: '{{A}}' }, { A: '{{B}}', B: 'no' }, 'd', errors)).toEqual({
      n: 1,
      b: true,
      z: null,
      s: '{{B}}',
    });
    expect(errors).toEqual([]);
  });

  it('names list items by index and does not look keys up on the prototype', () => {
    const errors: FieldError[] = [];
    expect(resolvePlaceholders(['{{constructor}}', ['{{A}}']], { A: 'a' }, 'd.args', errors)).toEqual([
      '{{constructor}}',
      ['a'],
    ]);
    expect(errors).toEqual([{ field: 'd.args[0]', message: 'unresolved placeholder {{constructor}}' }]);
  });
});
