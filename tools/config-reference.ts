// `npm run docs:config`: writes docs/configuration.md from the declared configuration keys.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CONFIG_REFERENCE_PATH, renderConfigReference } from '../libs/config/src/lib/reference';

const target = join(__dirname, '..', CONFIG_REFERENCE_PATH);
writeFileSync(target, renderConfigReference());
process.stdout.write(`wrote ${CONFIG_REFERENCE_PATH}\n`);
