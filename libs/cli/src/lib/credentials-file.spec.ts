import { mkdir, mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { credentialsPath, forgetCredential, serverKey, storeCredential, storedCredential } from './credentials-file';

let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'shipdeck-credentials-'));
});

afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const credential = (token: string) => ({ token, tokenId: `id-${token}`, user: 'ada', createdAt: '2030-01-01T00:00:00.000Z' });

describe('credentialsPath', () => {
  it('prefers XDG_CONFIG_HOME, then HOME/.config, and is undefined without either', () => {
    expect(credentialsPath({ XDG_CONFIG_HOME: '/x', HOME: '/h' })).toBe('/x/shipdeck/credentials.json');
    expect(credentialsPath({ HOME: '/h' })).toBe('/h/.config/shipdeck/credentials.json');
    expect(credentialsPath({ XDG_CONFIG_HOME: ' ', HOME: '/h' })).toBe('/h/.config/shipdeck/credentials.json');
    expect(credentialsPath({})).toBeUndefined();
  });
});

describe('serverKey', () => {
  it('normalizes the URL a server is stored under', () => {
    expect(serverKey('http://LOCALHOST:4516/')).toBe('http://localhost:4516');
    expect(serverKey('https://shipdeck.example.com:443')).toBe('https://shipdeck.example.com');
  });
});

describe('stored credentials', () => {
  it('stores per server in a 0600 file in a 0700 directory, and forgets', async () => {
    const env = { XDG_CONFIG_HOME: dir };
    const path = await storeCredential(env, 'http://localhost:4516', credential('a'));
    await storeCredential(env, 'http://other:4516', credential('b'));
    expect(path).toBe(join(dir, 'shipdeck', 'credentials.json'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'shipdeck'))).mode & 0o777).toBe(0o700);
    expect(await storedCredential(env, 'http://localhost:4516/')).toEqual(credential('a'));
    expect(await storedCredential(env, 'http://other:4516')).toEqual(credential('b'));
    expect(await storedCredential(env, 'http://nowhere:4516')).toBeUndefined();

    expect(await forgetCredential(env, 'http://localhost:4516')).toBe(true);
    expect(await forgetCredential(env, 'http://localhost:4516')).toBe(false);
    expect(await storedCredential(env, 'http://localhost:4516')).toBeUndefined();
    expect(await storedCredential(env, 'http://other:4516')).toEqual(credential('b'));
    expect(JSON.parse(await readFile(path, 'utf8'))).toEqual({ servers: { 'http://other:4516': credential('b') } });
  });

  it('tightens a directory and replaces a file that others could read', async () => {
    const env = { XDG_CONFIG_HOME: dir };
    await mkdir(join(dir, 'shipdeck'), { mode: 0o755 });
    await chmod(join(dir, 'shipdeck'), 0o755);
    const path = join(dir, 'shipdeck', 'credentials.json');
    await writeFile(path, JSON.stringify({ servers: { 'http://old:1': credential('old') } }), { mode: 0o644 });
    await storeCredential(env, 'http://localhost:4516', credential('a'));
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir, 'shipdeck'))).mode & 0o777).toBe(0o700);
    expect(await storedCredential(env, 'http://old:1')).toEqual(credential('old'));
  });

  it('reads nothing without a home, and says so when asked to store', async () => {
    expect(await storedCredential({}, 'http://localhost:4516')).toBeUndefined();
    await expect(storeCredential({}, 'http://localhost:4516', credential('a'))).rejects.toThrow(/XDG_CONFIG_HOME nor HOME/);
  });

  it('refuses a file that is not JSON, naming it', async () => {
    await mkdir(join(dir, 'shipdeck'));
    await writeFile(join(dir, 'shipdeck', 'credentials.json'), 'not json');
    await expect(storedCredential({ XDG_CONFIG_HOME: dir }, 'http://localhost:4516')).rejects.toThrow(/credentials\.json is not valid JSON/);
  });
});
