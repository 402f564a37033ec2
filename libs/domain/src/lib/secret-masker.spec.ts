import { SecretMasker } from './secret-masker';

/** Feeds `chunks` through a masker of `values` and answers everything shown. */
function stream(values: string[], chunks: string[]): { shown: string[]; all: string } {
  const masker = new SecretMasker(values);
  const shown = chunks.map((chunk) => masker.write(chunk));
  shown.push(masker.end());
  return { shown, all: shown.join('') };
}

describe('SecretMasker', () => {
  it('masks a value inside one chunk, every time it occurs', () => {
    expect(stream(['s3cret'], ['a s3cret b s3cret\n']).all).toBe('a ****** b ******\n');
  });

  it('masks a value split across chunks and never shows a part of it', () => {
    const { shown, all } = stream(['s3cret'], ['pw=s3', 'c', 'ret!\n']);
    expect(all).toBe('pw=******!\n');
    for (const part of shown) expect(part).not.toMatch(/s3|cr|et/);
  });

  it('masks at every split point of a value across two chunks', () => {
    const secret = 'correct-horse';
    const text = `before ${secret} after`;
    for (let cut = 0; cut <= text.length; cut++) {
      expect(stream([secret], [text.slice(0, cut), text.slice(cut)]).all).toBe('before ****** after');
    }
  });

  it('shows a held-back beginning once the next chunk shows it is not the value', () => {
    const { shown } = stream(['secret'], ['a sec', 'ond line\n']);
    expect(shown).toEqual(['a ', 'second line\n', '']);
  });

  it('prefers the longest value and masks one that straddles the held-back part', () => {
    expect(stream(['abc', 'abcdef'], ['x abcd', 'ef y']).all).toBe('x ****** y');
    expect(stream(['pqr', 'rstu'], ['pqrs']).all).toBe('******s');
  });

  it('passes text through unchanged without values, and masks single strings', () => {
    const masker = new SecretMasker(['', 'k.y']);
    expect(new SecretMasker([]).write('abc')).toBe('abc');
    expect(masker.mask('a k.y kxy')).toBe('a ****** kxy');
  });
});
