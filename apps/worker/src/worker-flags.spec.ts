import { ValidationError } from '@shipdeck/errors';
import { parseWorkerFlags } from './worker-flags';

describe('parseWorkerFlags', () => {
  it('reads the documented single-dash flags, repeated masters included', () => {
    expect(
      parseWorkerFlags(['-master', 'm1:8180', '-master', 'm2:8180', '-api', 'http://lb:4516/', '-name', 'w', '-port', '9000', '-hostname', 'h', '-work-dir', '/w']),
    ).toEqual({ masters: ['m1:8180', 'm2:8180'], api: 'http://lb:4516', name: 'w', port: 9000, hostname: 'h', workDir: '/w' });
  });

  it('accepts double-dash and = forms, and defaults the port to any free one', () => {
    expect(parseWorkerFlags(['--master=m:1', '--work-dir', 'x'])).toMatchObject({ masters: ['m:1'], workDir: 'x', port: 0 });
  });

  it('names every bad flag', () => {
    try {
      parseWorkerFlags(['-port', 'abc', '-bogus', '-api']);
      throw new Error('expected a ValidationError');
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).details.map((d) => d.field)).toEqual(['-port', '-bogus', '-api']);
    }
  });
});
