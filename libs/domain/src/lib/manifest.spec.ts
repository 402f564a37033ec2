import { ErrorCode, FieldError, ValidationError } from '@shipdeck/errors';
import { CiTypeCatalog, parseManifest, parseManifestText } from './manifest';
import { NAME_RULE } from './names';

/** A catalog with two types; `file.File` requires `targetPath`. */
const types: CiTypeCatalog = {
  has: (type) => type === 'file.File' || type === 'cmd.Command',
  validate: (type, properties, prefix) =>
    type === 'file.File' && typeof properties.targetPath !== 'string'
      ? [{ field: `${prefix}.targetPath`, message: 'is required' }]
      : [],
};

const valid = {
  application: 'petclinic',
  version: '1.0.0',
  deployables: [
    {
      name: 'app-config',
      type: 'file.File',
      targetPath: '{{APP_HOME}}/app.conf',
      content: 'db.url={{DB_URL}}\n',
      tags: ['web'],
      order: 55,
    },
    { name: 'app', type: 'cmd.Command', create: './install.sh', env: { A: 'b' } },
  ],
};

function detailsOf(fn: () => unknown): FieldError[] {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).code).toBe(ErrorCode.VALIDATION_FAILED);
    return (error as ValidationError).details;
  }
  throw new Error('expected a ValidationError');
}

describe('parseManifest', () => {
  it('turns a valid manifest into a package version, type fields into properties', () => {
    expect(parseManifest(valid, types)).toEqual({
      application: 'petclinic',
      version: '1.0.0',
      deployables: [
        {
          name: 'app-config',
          type: 'file.File',
          tags: ['web'],
          order: 55,
          properties: { targetPath: '{{APP_HOME}}/app.conf', content: 'db.url={{DB_URL}}\n' },
        },
        { name: 'app', type: 'cmd.Command', tags: [], properties: { create: './install.sh', env: { A: 'b' } } },
      ],
    });
  });

  it('leaves order undefined when the manifest gives none', () => {
    const [, app] = parseManifest(valid, types).deployables;
    expect('order' in app).toBe(false);
  });

  it('refuses input that is not an object with a single detail', () => {
    for (const raw of [null, 'petclinic', 42, [valid]]) {
      expect(detailsOf(() => parseManifest(raw, types))).toEqual([
        { field: 'manifest', message: 'must be an object with application, version and deployables' },
      ]);
    }
  });

  it('reports every missing top-level field', () => {
    expect(detailsOf(() => parseManifest({}, types))).toEqual([
      { field: 'application', message: 'must be a string' },
      { field: 'version', message: 'must be a string' },
      { field: 'deployables', message: 'must be a list of deployables' },
    ]);
  });

  it('refuses an application name with other characters, or an empty one', () => {
    expect(detailsOf(() => parseManifest({ ...valid, application: 'pet clinic/1' }, types))).toEqual([
      { field: 'application', message: `may contain only ${NAME_RULE}` },
    ]);
    expect(detailsOf(() => parseManifest({ ...valid, application: '' }, types))).toEqual([
      { field: 'application', message: 'must not be empty' },
    ]);
  });

  it('refuses a numeric version, telling to quote it', () => {
    expect(detailsOf(() => parseManifest({ ...valid, version: 1 }, types))).toEqual([
      { field: 'version', message: 'must be a string, got the number 1; quote it in YAML, e.g. version: "1.0"' },
    ]);
  });

  it('refuses an empty deployables list', () => {
    expect(detailsOf(() => parseManifest({ ...valid, deployables: [] }, types))).toEqual([
      { field: 'deployables', message: 'must contain at least one deployable' },
    ]);
  });

  it('reports one detail per invalid deployable field, all at once', () => {
    const raw = {
      application: 'petclinic',
      version: '1.0',
      deployables: [
        { name: 'a', type: 'file.File', targetPath: '/x', tags: 'web', order: 101 },
        'not an object',
        { name: 'a', type: 'nope.Nope', order: 1.5 },
        { type: 'file.File', tags: ['ok', 3], order: -1 },
        { name: '', type: '' },
      ],
    };
    expect(detailsOf(() => parseManifest(raw, types))).toEqual([
      { field: 'deployables[0].tags', message: 'must be a list of strings' },
      { field: 'deployables[0].order', message: 'must be at most 100' },
      { field: 'deployables[1]', message: 'must be an object with at least name and type' },
      { field: 'deployables[2].order', message: 'must be an integer from 0 to 100' },
      { field: 'deployables[2].name', message: 'duplicate name "a" (also deployables[0])' },
      { field: 'deployables[2].type', message: 'unknown type "nope.Nope"' },
      { field: 'deployables[3].name', message: 'must be a string' },
      { field: 'deployables[3].tags', message: 'must be a list of strings' },
      { field: 'deployables[3].order', message: 'must be at least 0' },
      { field: 'deployables[3].targetPath', message: 'is required' },
      { field: 'deployables[4].name', message: 'must not be empty' },
      { field: 'deployables[4].type', message: 'must not be empty' },
    ]);
  });

  it('sums the problems up in the message', () => {
    expect(() => parseManifest({ ...valid, version: 2, application: '' }, types)).toThrow(
      'invalid manifest: application must not be empty (and 1 more)',
    );
  });
});

describe('parseManifestText', () => {
  const yaml = `
application: petclinic
version: "1.0.0"
deployables:
  - name: app-config
    type: file.File
    targetPath: "{{APP_HOME}}/app.conf"
    tags: [web]
`;

  it('parses YAML and JSON by content type, ignoring parameters', () => {
    const fromYaml = parseManifestText(yaml, 'application/yaml; charset=utf-8', types);
    expect(fromYaml.deployables[0]).toEqual({
      name: 'app-config',
      type: 'file.File',
      tags: ['web'],
      properties: { targetPath: '{{APP_HOME}}/app.conf' },
    });
    expect(parseManifestText(JSON.stringify(valid), 'application/json', types)).toEqual(parseManifest(valid, types));
    expect(parseManifestText('a: 1', 'text/x-yaml')).toEqual({ a: 1 });
  });

  it('answers the raw document without a catalog, to be checked later', () => {
    expect(parseManifestText('{"application": 3}', 'application/json')).toEqual({ application: 3 });
  });

  it('rejects a YAML number as version with the quoting hint', () => {
    const text = yaml.replace('"1.0.0"', '1.0');
    expect(detailsOf(() => parseManifestText(text, 'application/yaml', types))).toEqual([
      { field: 'version', message: 'must be a string, got the number 1; quote it in YAML, e.g. version: "1.0"' },
    ]);
  });

  it.each([
    ['application/json', '{"application": "x",'],
    ['application/yaml', 'application: [unclosed'],
    ['application/yaml', 'a: 1\na: 2'],
    ['application/yaml', 'a: 1\n---\nb: 2'],
    ['application/yaml', 'a: *undefined_anchor'],
  ])('refuses %s that does not parse with MALFORMED_BODY', (contentType, text) => {
    let error: unknown;
    try {
      parseManifestText(text, contentType, types);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ValidationError);
    expect(error).toMatchObject({ code: ErrorCode.MALFORMED_BODY, details: [expect.objectContaining({ field: 'body' })] });
    expect((error as Error).message).toMatch(/^manifest is not valid (JSON|YAML): /);
  });

  it('reports where YAML breaks', () => {
    expect(() => parseManifestText('a: 1\n  b: [', 'application/yaml')).toThrow(/line \d+, column \d+/);
  });

  it('refuses other content types with UNSUPPORTED_MEDIA_TYPE', () => {
    expect(() => parseManifestText(yaml, 'text/plain')).toThrow(
      expect.objectContaining({ code: ErrorCode.UNSUPPORTED_MEDIA_TYPE }),
    );
  });
});
