'use strict';
/**
 * Example external Shipdeck plugin: the CI type `example.Marker` writes a marker file.
 *
 * Plain CommonJS, loaded as is from `plugins/` at start (no build). Properties:
 * - `path` (string, absolute): the marker file;
 * - `text` (string): its first line; a `deployed-at <ISO time>` line follows.
 * CREATE and MODIFY write the file (creating its directory), DESTROY removes it.
 *
 * @typedef {import('../../libs/plugins/src').ShipdeckPlugin} ShipdeckPlugin
 * @typedef {import('../../libs/plugins/src').CiTypeDefinition} CiTypeDefinition
 * @typedef {import('../../libs/tasks/src').StepContext} StepContext
 * @typedef {import('../../libs/errors/src').FieldError} FieldError
 */

const fs = require('node:fs/promises');
const path = require('node:path');

const TYPE = 'example.Marker';
const PROPERTIES = ['path', 'text'];

/**
 * @param {Record<string, unknown>} properties
 * @param {string} fieldPrefix
 * @returns {FieldError[]}
 */
function validate(properties, fieldPrefix) {
  const field = (name) => (fieldPrefix ? `${fieldPrefix}.${name}` : name);
  /** @type {FieldError[]} */
  const errors = [];
  for (const name of PROPERTIES) {
    const value = properties[name];
    if (value === undefined || value === null) errors.push({ field: field(name), message: 'is required' });
    else if (typeof value !== 'string') errors.push({ field: field(name), message: 'must be a string' });
  }
  const target = properties.path;
  // A placeholder makes the path absolute only once the planner resolved it.
  if (typeof target === 'string' && !target.includes('{{') && !path.isAbsolute(target)) {
    errors.push({ field: field('path'), message: `must be an absolute path, got ${JSON.stringify(target)}` });
  }
  for (const name of Object.keys(properties)) {
    if (!PROPERTIES.includes(name)) errors.push({ field: field(name), message: `is not a property of ${TYPE}` });
  }
  return errors;
}

/**
 * @param {StepContext} ctx
 * @returns {Promise<void>}
 */
async function execute(ctx) {
  ctx.signal.throwIfAborted();
  const problems = validate(ctx.step.properties, '');
  if (problems.length > 0) {
    throw new Error(`invalid ${TYPE} properties: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`);
  }
  const target = /** @type {string} */ (ctx.step.properties.path);
  const text = /** @type {string} */ (ctx.step.properties.text);
  if (ctx.step.operation === 'DESTROY') {
    await fs.rm(target, { force: true });
    ctx.log(`removed marker ${target}\n`);
    return;
  }
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.writeFile(target, `${text}\ndeployed-at ${new Date().toISOString()}\n`, 'utf8');
  ctx.log(`wrote marker ${target}\n`);
}

/** @type {CiTypeDefinition} */
const marker = {
  name: TYPE,
  defaultOrder: 65,
  validate,
  describeStep: (operation, subject) => {
    const verb = { CREATE: 'Create', MODIFY: 'Modify', DESTROY: 'Destroy' }[operation];
    return `${verb} marker ${subject.deployable} on ${subject.host}`;
  },
  execute,
};

/** @type {ShipdeckPlugin} */
exports.plugin = { name: 'example-marker', ciTypes: [marker] };
