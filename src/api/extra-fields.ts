// The columns a DBA adds to `employes` (found on both engines by the schema keeper), as GraphQL: a
// nullable field of EmployeType and an optional field of EmployeInput each, named in camelCase
// (`date_fin` → `dateFin`), typed from the column's logical type. The published contract's fields are
// never touched: a column whose field name is taken is left out of the API (and logged). The schema is
// extended with graphql-js's own `extendSchema`, so every existing resolver is kept as it is.
import type {
  GraphQLObjectType} from 'graphql';
import {
  extendSchema,
  GraphQLError,
  parse,
  type GraphQLFieldResolver,
  type GraphQLSchema,
} from 'graphql';
import { ErrorCodes } from '../errors.ts';
import type { EmployeeView } from '../store/types.ts';
import type { ColumnType } from '../tables/column-types.ts';
import type { SchemaColumn } from '../tables/table-schema.ts';
import { canonicalInstant, unportableValue, type RowValues } from '../tables/values.ts';

export interface ExtraField {
  field: string;
  column: SchemaColumn;
  graphqlType: string;
}

/** `date_fin` → `dateFin`. */
export function fieldName(column: string): string {
  return column.replace(/_+([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

function graphqlType(type: ColumnType): string {
  switch (type.kind) {
    case 'smallint':
    case 'integer':
      return 'Int';
    case 'double':
      return 'Float';
    case 'boolean':
      return 'Boolean';
    case 'timestamp':
      return 'DateTime';
    default:
      // text, date, decimal and bigint: as text, exactly (a 64-bit integer or a decimal is no Float).
      return 'String';
  }
}

/** The extra columns that become fields: those whose names are free in both the type and the input. */
export function extraFields(schema: GraphQLSchema, columns: readonly SchemaColumn[]): { fields: ExtraField[]; skipped: string[] } {
  const taken = new Set([
    ...Object.keys((schema.getType('EmployeType') as GraphQLObjectType).getFields()),
    ...Object.keys((schema.getType('EmployeInput') as GraphQLObjectType).getFields()),
  ]);
  const fields: ExtraField[] = [];
  const skipped: string[] = [];
  for (const column of columns) {
    const field = fieldName(column.name);
    if (taken.has(field) || !/^[_A-Za-z][_0-9A-Za-z]*$/.test(field)) {
      skipped.push(column.name);
      continue;
    }
    taken.add(field);
    fields.push({ field, column, graphqlType: graphqlType(column.type) });
  }
  return { fields, skipped };
}

/** The value a field shows for a column's canonical text. */
function output(type: ColumnType, value: string | null | undefined): unknown {
  if (value === null || value === undefined) return null;
  switch (type.kind) {
    case 'smallint':
    case 'integer':
    case 'double':
      return Number(value);
    case 'boolean':
      return value === 'true';
    default:
      return value;
  }
}

/** The API schema with a field per extra column (the base schema itself when there are none). */
export function withExtraFields(base: GraphQLSchema, fields: readonly ExtraField[]): GraphQLSchema {
  if (fields.length === 0) return base;
  const description = (f: ExtraField) => JSON.stringify(`Column ${f.column.name}, added to both databases by a DBA (synced like every column).`);
  const sdl = [
    `extend type EmployeType {\n${fields.map((f) => `  ${description(f)}\n  ${f.field}: ${f.graphqlType}`).join('\n')}\n}`,
    `extend input EmployeInput {\n${fields.map((f) => `  ${description(f)}\n  ${f.field}: ${f.graphqlType}`).join('\n')}\n}`,
  ].join('\n');
  const schema = extendSchema(base, parse(sdl), { assumeValidSDL: false });
  const type = schema.getType('EmployeType') as GraphQLObjectType;
  for (const f of fields) {
    const resolve: GraphQLFieldResolver<EmployeeView, unknown> = (row) => output(f.column.type, row.extra?.[f.column.name]);
    type.getFields()[f.field]!.resolve = resolve as GraphQLFieldResolver<unknown, unknown>;
  }
  return schema;
}

function badInput(field: string, message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCodes.BAD_USER_INPUT, field } });
}

/**
 * The extra columns an input sets (a field left out: unchanged; null: cleared), as canonical text,
 * each checked against what both engines hold. Throws BAD_USER_INPUT naming the field.
 */
export function extraInput(input: Record<string, unknown>, fields: readonly ExtraField[]): RowValues | undefined {
  const values: RowValues = {};
  let any = false;
  for (const { field, column } of fields) {
    const given = input[field];
    if (given === undefined) continue;
    any = true;
    if (given === null) {
      if (!column.nullable) throw badInput(field, `${field} must not be null.`);
      values[column.name] = null;
      continue;
    }
    const text = column.type.kind === 'timestamp' ? canonicalInstant(String(given)) : String(given);
    const reason = unportableValue(column.type, text, column.nullable);
    if (reason) throw badInput(field, `${field} ${reason}.`);
    values[column.name] = text;
  }
  return any ? values : undefined;
}
