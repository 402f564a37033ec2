import { isUtf8 } from 'node:buffer';
import express, { RequestHandler } from 'express';
import { parse as parseYaml } from 'yaml';
import { ErrorCode, ValidationError } from '@shipdeck/errors';
import { HttpError } from './http-errors';
import { INPUT_LIMITS, checkInputShape, jsonNestingExceedsLimit, limitError } from './input-limits';
import { isPlainObject } from './validation';

/** Largest request body accepted; larger ones get 413. */
export const BODY_LIMIT_BYTES = 5 * 1024 * 1024;

/** How a body may be written. */
export type BodyFormat = 'json' | 'yaml';

const MEDIA_TYPES: Readonly<Record<BodyFormat, readonly string[]>> = {
  json: ['application/json'],
  yaml: ['application/yaml', 'application/x-yaml', 'text/yaml', 'text/x-yaml'],
};

const readRaw = express.raw({ type: () => true, limit: BODY_LIMIT_BYTES });

/** The handlers {@link readBody} made: access checks that look into the body run after them. */
const bodyReaders = new WeakSet<RequestHandler>();

/** Whether `handler` is a body reader made by {@link readBody}. */
export function isBodyReader(handler: RequestHandler): boolean {
  return bodyReaders.has(handler);
}

/**
 * Reads the request body, checks its media type against `formats`, parses it and leaves the
 * parsed JSON object in `req.body`. Failures: 415 UNSUPPORTED_MEDIA_TYPE for another media
 * type or charset, 413 for a body over {@link BODY_LIMIT_BYTES}, 400 MALFORMED_BODY for an
 * empty body, a syntax error or anything but an object at the top; 400 VALIDATION_FAILED naming
 * the field for a body beyond {@link INPUT_LIMITS} or with a prototype key (`__proto__`…).
 */
export function readBody(formats: readonly BodyFormat[] = ['json']): RequestHandler {
  const accepted = formats.flatMap((f) => MEDIA_TYPES[f]);
  const reader: RequestHandler = (req, res, next) => {
    readRaw(req, res, (err?: unknown) => {
      if (err) {
        next(bodyReadError(err));
        return;
      }
      try {
        const raw: unknown = req.body;
        const text = Buffer.isBuffer(raw) ? decodeUtf8(raw) : '';
        if (text.trim() === '') throw malformed(`a request body is required (${accepted[0]})`);
        const format = formatOf(req.headers['content-type'], formats, accepted);
        const value = parseBody(text, format);
        if (!isPlainObject(value)) throw malformed(`the request body must be a ${format.toUpperCase()} object`);
        checkInputShape(value, 'body');
        req.body = value;
        next();
      } catch (error) {
        next(error);
      }
    });
  };
  bodyReaders.add(reader);
  return reader;
}

function formatOf(header: string | undefined, formats: readonly BodyFormat[], accepted: readonly string[]): BodyFormat {
  const expected = `expected ${accepted.join(' or ')}`;
  if (!header) throw new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, `missing Content-Type; ${expected}`);
  const [type, ...params] = header.split(';').map((p) => p.trim().toLowerCase());
  const format = formats.find((f) => MEDIA_TYPES[f].includes(type));
  if (!format) throw new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, `unsupported Content-Type ${type}; ${expected}`);
  const charset = params.find((p) => p.startsWith('charset='))?.slice('charset='.length).replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8') {
    throw new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, `unsupported charset ${charset}; expected utf-8`);
  }
  return format;
}

function parseBody(text: string, format: BodyFormat): unknown {
  if (format === 'json' && jsonNestingExceedsLimit(text)) throw tooDeep();
  try {
    return format === 'json' ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    const reason = error instanceof Error ? error.message.split('\n')[0] : String(error);
    // Only nesting far beyond any real document exhausts the parser's stack; the YAML parser
    // reports it as a parse error of its own.
    if (error instanceof RangeError || reason.includes('Maximum call stack size exceeded')) throw tooDeep();
    throw malformed(`the request body is not valid ${format.toUpperCase()}: ${reason}`);
  }
}

function tooDeep(): ValidationError {
  return limitError('body', `nests deeper than the limit of ${INPUT_LIMITS.maxDepth} levels`);
}

function decodeUtf8(raw: Buffer): string {
  if (!isUtf8(raw)) throw malformed('the request body is not valid UTF-8');
  return raw.toString('utf8');
}

function malformed(message: string): ValidationError {
  return new ValidationError(message, [], ErrorCode.MALFORMED_BODY);
}

/** body-parser's errors, in this API's terms. */
function bodyReadError(err: unknown): unknown {
  const type = (err as { type?: unknown } | null)?.type;
  if (type === 'entity.too.large') {
    return new HttpError(
      413,
      ErrorCode.PAYLOAD_TOO_LARGE,
      `the request body is larger than ${BODY_LIMIT_BYTES / (1024 * 1024)} MB`,
    );
  }
  if (type === 'encoding.unsupported') {
    return new HttpError(415, ErrorCode.UNSUPPORTED_MEDIA_TYPE, 'unsupported Content-Encoding');
  }
  return err;
}
