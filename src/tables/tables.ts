// The list of synced tables: `employes` (always: the published contract), and the tables of the JSON file
// SYNC_TABLES_FILE names, checked here. Each table travels on its own topic.
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import type { Config } from '../config.ts';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { identifierPattern, keyColumn, syncColumns, type TableDeclaration } from './declaration.ts';
import { employesTable } from './employes.ts';

const name = z.string().regex(identifierPattern, 'must be a lower-case SQL identifier');
const columnType = z.discriminatedUnion('kind', [
  z.object({ kind: z.enum(['smallint', 'integer', 'bigint', 'timestamp', 'date', 'boolean', 'double']) }),
  z.object({ kind: z.literal('text'), length: z.number().int().min(1).max(16383).nullable() }),
  z.object({ kind: z.literal('decimal'), precision: z.number().int().min(1).max(38), scale: z.number().int().min(0).max(30) }),
]);
const tableSchema = z
  .object({
    name,
    topic: z.string().regex(/^[A-Za-z0-9._-]{1,200}$/, 'must be a Kafka topic name'),
    columns: z
      .array(
        z.object({
          name,
          type: columnType,
          nullable: z.boolean(),
          default: z.union([z.literal('now'), z.object({ value: z.string() })]).optional(),
          role: z.literal('updated-at').optional(),
        }),
      )
      .min(1),
    unique: z.array(name).default([]),
    indexes: z.array(z.object({ name, columns: z.array(name).min(1) })).default([]),
  })
  .superRefine((table, ctx) => {
    const columns = new Set(table.columns.map((c) => c.name));
    if (columns.size !== table.columns.length) ctx.addIssue({ code: 'custom', message: 'column names repeat' });
    for (const reserved of [keyColumn, ...syncColumns]) {
      if (columns.has(reserved)) ctx.addIssue({ code: 'custom', message: `column ${reserved} is empsync's own` });
    }
    for (const column of [...table.unique, ...table.indexes.flatMap((i) => i.columns)]) {
      if (!columns.has(column) && column !== keyColumn) ctx.addIssue({ code: 'custom', message: `no column ${column}` });
    }
  });

/** Reads and checks a JSON file of table declarations; throws EMPSYNC_CONFIG_INVALID naming what is wrong. */
export function readTableFile(path: string): TableDeclaration[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `invalid SYNC_TABLES_FILE: cannot read ${path}`, { cause: error });
  }
  const parsed = z.array(tableSchema).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `invalid SYNC_TABLES_FILE: ${issue.path.join('.')}: ${issue.message}`, {
      details: { variable: 'SYNC_TABLES_FILE' },
    });
  }
  return parsed.data;
}

/** The synced tables of this configuration, `employes` first. */
export function syncedTables(config: Pick<Config, 'KAFKA_TOPIC' | 'SYNC_TABLES_FILE'>): TableDeclaration[] {
  const tables = [employesTable(config.KAFKA_TOPIC), ...(config.SYNC_TABLES_FILE ? readTableFile(config.SYNC_TABLES_FILE) : [])];
  const names = new Set<string>();
  const topics = new Set<string>();
  for (const table of tables) {
    if (names.has(table.name) || topics.has(table.topic)) {
      throw new EmpsyncError(ErrorCodes.CONFIG_INVALID, `invalid SYNC_TABLES_FILE: table ${table.name} or topic ${table.topic} is declared twice`, {
        details: { variable: 'SYNC_TABLES_FILE' },
      });
    }
    names.add(table.name);
    topics.add(table.topic);
  }
  return tables;
}
