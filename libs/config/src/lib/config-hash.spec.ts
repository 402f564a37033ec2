import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { computeConfigHash } from './config-hash';

let root: string;
beforeEach(() => {
  root = mkdtempSync(join(tmpdir(), 'shipdeck-hash-'));
});
afterEach(() => rmSync(root, { recursive: true, force: true }));

function install(name: string, files: Record<string, string>): string {
  const home = join(root, name);
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(home, path)), { recursive: true });
    writeFileSync(join(home, path), content);
  }
  mkdirSync(home, { recursive: true });
  return home;
}

const FILES = {
  'conf/shipdeck.yaml': 'server:\n  port: 4516\n',
  'plugins/acme/index.js': 'module.exports = {};\n',
  'ext/templates/a.txt': 'A',
  'ext/b.txt': 'B',
};

describe('computeConfigHash', () => {
  it('is a hex SHA-256, the same for the same files wherever the installation is', () => {
    const a = install('a', FILES);
    const copy = join(root, 'elsewhere', 'b');
    cpSync(a, copy, { recursive: true });
    expect(computeConfigHash(a)).toMatch(/^[0-9a-f]{64}$/);
    expect(computeConfigHash(a)).toBe(computeConfigHash(a));
    expect(computeConfigHash(copy)).toBe(computeConfigHash(a));
  });

  it('is path NUL contents, in order of relative path', () => {
    const home = install('a', { 'conf/z.yaml': 'z', 'conf/a.yaml': 'a', 'plugins/p.js': 'p' });
    const expected = createHash('sha256').update('conf/a.yaml\0aconf/z.yaml\0zplugins/p.js\0p').digest('hex');
    expect(computeConfigHash(home)).toBe(expected);
  });

  it('changes with an extra file in plugins/', () => {
    const home = install('a', FILES);
    const before = computeConfigHash(home);
    writeFileSync(join(home, 'plugins', 'extra.js'), '');
    expect(computeConfigHash(home)).not.toBe(before);
  });

  it('changes when a file is edited or renamed', () => {
    const home = install('a', FILES);
    const edited = install('b', { ...FILES, 'ext/b.txt': 'B!' });
    const { 'ext/b.txt': b, ...rest } = FILES;
    const renamed = install('c', { ...rest, 'ext/c.txt': b });
    expect(new Set([computeConfigHash(home), computeConfigHash(edited), computeConfigHash(renamed)]).size).toBe(3);
  });

  it('ignores files outside conf/, plugins/ and ext/, and missing directories', () => {
    const home = install('a', { 'conf/shipdeck.yaml': 'x' });
    const before = computeConfigHash(home);
    writeFileSync(join(home, 'README'), 'not configuration');
    mkdirSync(join(home, 'work'));
    writeFileSync(join(home, 'work', 'w.task'), '{}');
    expect(computeConfigHash(home)).toBe(before);
    expect(computeConfigHash(install('empty', {}))).toBe(createHash('sha256').digest('hex'));
  });
});
