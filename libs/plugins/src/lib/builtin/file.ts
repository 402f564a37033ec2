import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin } from '../plugin';
import { PropertyReader } from '../properties';
import { propertyCiType } from '../property-ci-type';

const TYPE = 'file.File';

interface FileProperties {
  targetPath: string;
  content: string;
}

function read(reader: PropertyReader): FileProperties {
  return { targetPath: reader.absolutePath('targetPath', true), content: reader.string('content', true) };
}

async function execute(ctx: StepContext, { targetPath, content }: FileProperties): Promise<void> {
  ctx.signal.throwIfAborted();
  if (ctx.step.operation === 'DESTROY') {
    try {
      await rm(targetPath);
      ctx.log(`removed ${targetPath}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      ctx.log(`${targetPath} does not exist; nothing to remove\n`);
    }
    return;
  }
  await mkdir(dirname(targetPath), { recursive: true });
  await writeFile(targetPath, content, 'utf8');
  ctx.log(`wrote ${Buffer.byteLength(content, 'utf8')} bytes to ${targetPath}\n`);
}

/** `file.File`: writes `content` to `targetPath` (absolute; parent directories are created). Default order 60. */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-file',
  ciTypes: [propertyCiType({ name: TYPE, defaultOrder: 60, read, execute })],
};
