import { constants } from 'node:fs';
import { lstat, mkdir, open, realpath, rm } from 'node:fs/promises';
import { basename, dirname, isAbsolute, join, sep } from 'node:path';
import { StepContext } from '@shipdeck/tasks';
import { ShipdeckPlugin } from '../plugin';
import { PropertyReader } from '../properties';
import { propertyCiType } from '../property-ci-type';

const TYPE = 'file.File';

/** The host property listing the directories `file.File` may write under (spec §1). */
export const ALLOWED_ROOTS_PROPERTY = 'allowedRoots';

interface FileProperties {
  targetPath: string;
  content: string;
}

function read(reader: PropertyReader): FileProperties {
  return { targetPath: reader.absolutePath('targetPath', true), content: reader.string('content', true) };
}

async function execute(ctx: StepContext, { targetPath, content }: FileProperties): Promise<void> {
  ctx.signal.throwIfAborted();
  const roots = await allowedRoots(ctx);
  if (targetPath.split(/[\\/]/).includes('..')) throw new Error(`targetPath ${targetPath} must not contain ".."`);
  if (ctx.step.operation === 'DESTROY') {
    await checkUnderRoots(dirname(targetPath), roots, targetPath);
    try {
      // rm of a symbolic link removes the link, never what it points to.
      await rm(targetPath);
      ctx.log(`removed ${targetPath}\n`);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      ctx.log(`${targetPath} does not exist; nothing to remove\n`);
    }
    return;
  }
  const parent = dirname(targetPath);
  await checkUnderRoots(parent, roots, targetPath);
  await mkdir(parent, { recursive: true });
  // Again once the directories exist: one of them may have been replaced by a link meanwhile.
  const realParent = await checkUnderRoots(parent, roots, targetPath);
  await writeNoFollow(join(realParent, basename(targetPath)), content);
  ctx.log(`wrote ${Buffer.byteLength(content, 'utf8')} bytes to ${targetPath}\n`);
}

/** The host's allowed roots, resolved (realpath); refuses a host without any. */
async function allowedRoots(ctx: StepContext): Promise<string[]> {
  const host = ctx.step.target;
  const value = host.properties?.[ALLOWED_ROOTS_PROPERTY];
  if (!Array.isArray(value) || value.length === 0) {
    throw new Error(
      `host ${host.name} has no ${ALLOWED_ROOTS_PROPERTY}; file.File writes only under the directories a host allows ` +
        `(PUT /api/v1/hosts/${host.name} with properties.${ALLOWED_ROOTS_PROPERTY}: ["/opt/app", …])`,
    );
  }
  const roots: string[] = [];
  for (const root of value) {
    if (typeof root !== 'string' || !isAbsolute(root)) {
      throw new Error(`host ${host.name}: every entry of ${ALLOWED_ROOTS_PROPERTY} must be an absolute path`);
    }
    roots.push(await realpathOfDeepestExisting(root));
  }
  return roots;
}

/**
 * Resolves `dir` through every symbolic link of the part that exists and answers it when it is
 * an allowed root or inside one; throws naming `target` otherwise.
 */
async function checkUnderRoots(dir: string, roots: readonly string[], target: string): Promise<string> {
  const real = await realpathOfDeepestExisting(dir);
  if (roots.some((root) => real === root || real.startsWith(root.endsWith(sep) ? root : root + sep))) return real;
  throw new Error(`targetPath ${target} resolves to ${real}, outside the host's ${ALLOWED_ROOTS_PROPERTY} (${roots.join(', ')})`);
}

/** The realpath of the deepest existing ancestor of `path` (or of itself), with the rest appended. */
async function realpathOfDeepestExisting(path: string): Promise<string> {
  const missing: string[] = [];
  let current = path;
  for (;;) {
    try {
      return join(await realpath(current), ...missing.reverse());
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      const parent = dirname(current);
      if (parent === current) throw error;
      missing.push(basename(current));
      current = parent;
    }
  }
}

/** Writes a file, refusing to follow a symbolic link at its own name. */
async function writeNoFollow(path: string, content: string): Promise<void> {
  const existing = await lstat(path).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (existing?.isSymbolicLink()) throw new Error(`${path} is a symbolic link; file.File does not follow links`);
  const handle = await open(path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW, 0o644);
  try {
    await handle.writeFile(content, 'utf8');
  } finally {
    await handle.close();
  }
}

/**
 * `file.File`: writes `content` to `targetPath` (absolute; parent directories are created).
 * The target must resolve, through every symbolic link, under one of the host's `allowedRoots`;
 * `..` is refused and a link at the target itself is never followed. Default order 60.
 */
export const plugin: ShipdeckPlugin = {
  name: 'builtin-file',
  ciTypes: [propertyCiType({ name: TYPE, defaultOrder: 60, read, execute })],
};
