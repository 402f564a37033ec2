import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_KEYS } from './keys';
import { CONFIG_REFERENCE_PATH, renderConfigReference } from './reference';

const root = join(__dirname, '..', '..', '..', '..');

describe('the configuration reference', () => {
  it(`${CONFIG_REFERENCE_PATH} is what npm run docs:config generates from the declared keys`, () => {
    const onDisk = readFileSync(join(root, CONFIG_REFERENCE_PATH), 'utf8');
    if (onDisk !== renderConfigReference()) {
      throw new Error(`${CONFIG_REFERENCE_PATH} is out of date with libs/config/src/lib/keys.ts: run npm run docs:config`);
    }
  });

  it('names every key once, with its environment variable', () => {
    const text = renderConfigReference();
    for (const name of Object.keys(CONFIG_KEYS)) {
      expect(text.split(`| \`${name}\` |`)).toHaveLength(2);
    }
    expect(text).toContain('| `server.port` | `SHIPDECK_SERVER_PORT` | `4516` |');
  });
});
