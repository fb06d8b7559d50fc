import { readFileSync } from 'node:fs';
import { Ajv2020, type ErrorObject } from 'ajv/dist/2020.js';

export const schemaPath = new URL('../pipeline.schema.json', import.meta.url);
export const pipelineSchema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;

const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
const validateSchema = ajv.compile(pipelineSchema);

/** Schema errors of a parsed file; empty when it conforms. */
export function schemaErrors(value: unknown): ErrorObject[] {
  return validateSchema(value) ? [] : [...(validateSchema.errors ?? [])];
}

/** A message that says what to change, for one schema error. */
export function describeSchemaError(err: ErrorObject): string {
  switch (err.keyword) {
    case 'required':
      return `missing required key '${(err.params as { missingProperty: string }).missingProperty}'`;
    case 'additionalProperties':
      return `unknown key '${(err.params as { additionalProperty: string }).additionalProperty}'`;
    case 'type':
      return `must be ${String((err.params as { type: string | string[] }).type).replace(',', ' or ')}`;
    case 'pattern':
      return `must match ${(err.params as { pattern: string }).pattern}`;
    case 'propertyNames':
      return 'invalid name';
    default:
      return err.message ?? err.keyword;
  }
}
