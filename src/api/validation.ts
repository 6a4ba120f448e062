import { Ajv } from 'ajv';
import type { Options } from 'ajv';
import addFormatsImport from 'ajv-formats';
import type { FastifySchemaCompiler } from 'fastify';
import { ENTITY_TAG_LIST_PATTERN, ENTITY_TAGS_FORMAT } from './etag.js';
import { TOKEN_PATTERN } from '../db/lsn.js';
import { CONSISTENCY_TOKEN_FORMAT, JsonValue } from './schemas.js';

// ajv-formats is CommonJS; its default export arrives wrapped under ESM.
const addFormats = addFormatsImport as unknown as (ajv: Ajv) => Ajv;

const common: Options = { removeAdditional: false, useDefaults: true, allErrors: false, strict: false };

/**
 * Two validators: query strings, params and headers arrive as text and are
 * coerced to their schema types; bodies are JSON and are never coerced, so
 * `{"name": 5}` is an error rather than the name "5".
 */
// The headers' own formats: each names the grammar its pattern spells.
const coercing = addFormats(new Ajv({ ...common, coerceTypes: 'array' }))
  .addFormat(ENTITY_TAGS_FORMAT, new RegExp(ENTITY_TAG_LIST_PATTERN))
  .addFormat(CONSISTENCY_TOKEN_FORMAT, new RegExp(TOKEN_PATTERN));
const strict = addFormats(new Ajv({ ...common, coerceTypes: false })).addSchema(JsonValue);

export const validatorCompiler: FastifySchemaCompiler<unknown> = ({ schema, httpPart }) => {
  const ajv = httpPart === 'body' ? strict : coercing;
  return ajv.compile(schema as object) as ReturnType<FastifySchemaCompiler<unknown>>;
};
