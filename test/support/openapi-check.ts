/**
 * Every answer a process-level test receives from a master is checked against the OpenAPI
 * document that master serves (`/api/v1/openapi.json`, issue 15): its status must be documented
 * for the route, and a JSON body must match the documented schema (ajv, JSON Schema 2020-12 as
 * OpenAPI 3.1 uses it). A mismatch fails the test with the route, the status and ajv's errors, so
 * the document cannot drift from the server.
 */
import Ajv2020, { ValidateFunction } from 'ajv/dist/2020';

/** The OpenAPI document as far as this check reads it. */
interface Document {
  paths: Record<string, Record<string, { responses?: Record<string, ResponseDoc> }>>;
  components?: { responses?: Record<string, ResponseDoc> };
}

interface ResponseDoc {
  $ref?: string;
  description?: string;
  content?: Record<string, { schema?: unknown }>;
}

/** What was received, as the check needs it. */
export interface ReceivedAnswer {
  method: string;
  url: string;
  status: number;
  contentType: string;
  /** The parsed body when it is JSON. */
  body: unknown;
  isJson: boolean;
}

/** The document's own id inside ajv, which its `#/components/...` references resolve against. */
const DOCUMENT_ID = 'openapi.json';
/** The path of the document on a master. */
export const OPENAPI_PATH = '/api/v1/openapi.json';

/** The checker of one master's document: its routes and a compiled validator per answer schema. */
export class OpenApiCheck {
  private readonly ajv = new Ajv2020({ strict: false, allErrors: true, validateFormats: false, validateSchema: false, logger: false });
  private readonly validators = new Map<string, ValidateFunction>();
  private readonly routes: { template: string; pattern: RegExp; literals: number }[];

  constructor(private readonly document: Document) {
    this.ajv.addSchema(document as object, DOCUMENT_ID);
    this.routes = Object.keys(document.paths)
      .map((template) => ({
        template,
        pattern: new RegExp(`^${template.replace(/[.*+?^$()|[\]\\]/g, '\\$&').replace(/\{[^}]+\}/g, '[^/]+')}$`),
        literals: template.split('/').filter((s) => s !== '' && !s.startsWith('{')).length,
      }))
      // A literal segment wins over a parameter (`/tasks/events` before `/tasks/{id}`).
      .sort((a, b) => b.literals - a.literals);
  }

  /** The problems of `answer` against the document; empty when it conforms. */
  problems(answer: ReceivedAnswer): string[] {
    const path = new URL(answer.url).pathname;
    const route = this.routes.find((r) => r.pattern.test(path));
    // A path the API does not have: only its 404 (or a refusal before routing) is possible, in the error shape.
    if (!route) return answer.isJson && answer.status >= 400 ? this.errorsOf(answer, '#/components/schemas/Error', `${answer.method} ${path}`) : [];
    const method = answer.method.toLowerCase();
    const operation = this.document.paths[route.template]?.[method];
    const where = `${answer.method} ${route.template}`;
    if (!operation) {
      // Every path answers 405 to a method it does not serve (the document's description says so).
      if (answer.status === 405) return this.errorsOf(answer, '#/components/schemas/Error', where);
      return [`${where} is not in the document, yet the master answered ${answer.status}`];
    }
    const responses = operation.responses ?? {};
    const key = String(answer.status) in responses ? String(answer.status) : answer.status >= 500 && 'default' in responses ? 'default' : undefined;
    if (key === undefined) return [`${where}: status ${answer.status} is not documented (documented: ${Object.keys(responses).join(', ')})`];
    const documented = this.resolve(responses[key]!);
    const media = Object.keys(documented.content ?? {});
    if (!answer.isJson) {
      if (media.length > 0 && answer.contentType !== '' && !media.some((m) => answer.contentType.startsWith(m.split(';')[0]!))) {
        return [`${where} ${answer.status}: answered ${answer.contentType}, documented ${media.join(', ')}`];
      }
      return [];
    }
    const json = media.find((m) => m.includes('json'));
    if (!json) return [`${where} ${answer.status}: answered JSON, documented ${media.length > 0 ? media.join(', ') : 'without a body'}`];
    const pointer = key === 'default' ? `#/components/responses/Error` : `#/paths/${escape(route.template)}/${method}/responses/${key}`;
    return this.errorsOf(answer, `${this.responsePointer(responses[key]!, pointer)}/content/${escape(json)}/schema`, `${where} ${answer.status}`);
  }

  /** A response object, or the one its `$ref` names. */
  private resolve(response: ResponseDoc): ResponseDoc {
    if (!response.$ref) return response;
    const name = response.$ref.replace('#/components/responses/', '');
    const target = this.document.components?.responses?.[name];
    if (!target) throw new Error(`the document refers to ${response.$ref}, which it lacks`);
    return target;
  }

  private responsePointer(response: ResponseDoc, own: string): string {
    return response.$ref ?? own;
  }

  private errorsOf(answer: ReceivedAnswer, pointer: string, where: string): string[] {
    let validate = this.validators.get(pointer);
    if (!validate) {
      validate = this.ajv.compile({ $ref: `${DOCUMENT_ID}${pointer}` });
      this.validators.set(pointer, validate);
    }
    if (validate(answer.body)) return [];
    return (validate.errors ?? []).map((e) => `${where}: body${e.instancePath} ${e.message ?? 'is invalid'}${paramsOf(e.params)} (schema ${e.schemaPath})`);
  }
}

/** A JSON pointer segment, as a URI fragment has it. */
function escape(segment: string): string {
  return encodeURIComponent(segment.replace(/~/g, '~0').replace(/\//g, '~1'));
}

function paramsOf(params: Record<string, unknown>): string {
  const shown = Object.entries(params).filter(([, v]) => v !== undefined);
  return shown.length === 0 ? '' : ` ${JSON.stringify(Object.fromEntries(shown))}`;
}
