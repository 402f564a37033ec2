import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin, describeDeploymentStep } from '../plugin';
import { PropertyReader, readStepProperties, validateProperties } from '../properties';

const TYPE = 'file.File';

interface FileProperties {
  targetPath: string;
  content: string;
}

function read(reader: PropertyReader): FileProperties {
  const props = { targetPath: reader.absolutePath('targetPath', true), content: reader.string('content', true) };
  reader.rejectUnknown(TYPE);
  return props;
}

async function execute(ctx: StepContext): Promise<void> {
  ctx.signal.throwIfAborted();
  const { targetPath, content } = readStepProperties(TYPE, ctx.step.properties, read);
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
  ciTypes: [
    {
      name: TYPE,
      defaultOrder: 60,
      validate: (properties, fieldPrefix) => validateProperties(properties, fieldPrefix, read),
      describeStep: describeDeploymentStep,
      execute,
    },
  ],
};
