// The event carried on a synced table's topic: a versioned JSON envelope, read and checked by every
// sink. Schema reference: docs/event-envelope.md. Key = the row id as a decimal string.
// v2 (`empsync.row-changed.v2`) carries any declared table: its name, the version of the schema the row
// was written with, and the row's values by column, each in its canonical text (src/tables/values.ts) or
// null. The envelope checks shape, not business rules: any value a column accepts travels exactly;
// what the other engine cannot hold is stopped at the source. A delete needs only its id, version and
// origin. v1 (`empsync.employee-changed.v1`, `employes` only, camelCase fields) is still read.
import { z } from 'zod';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { canonicalInstant, type RowValues } from '../tables/values.ts';
import { changeEventId } from '../store/event-id.ts';
import type { OutboxRow, RowChange } from '../store/types.ts';
import { employesTableName, employesV1Fields } from '../tables/employes.ts';

export const envelopeSchemaName = 'empsync.row-changed.v2';
export const legacyEnvelopeSchemaName = 'empsync.employee-changed.v1';

const versionString = z.string().regex(/^\d{1,19}$/, 'must be a non-negative integer string');
const isoTimestamp = z.iso.datetime({ offset: true, precision: undefined });
const origin = z.enum(['mysql', 'postgres']);
const rowId = z.number().int().min(-2147483648).max(2147483647);

const header = {
  // Null only from a relay of an earlier release reading a row the current triggers wrote (they write no
  // id, src/store/event-id.ts) during an upgrade: the sink derives the id the current relay would give.
  eventId: z.string().uuid().nullable(),
  op: z.enum(['c', 'u', 'd', 'r']),
  origin,
  version: versionString,
  baseVersion: versionString,
  committedAt: isoTimestamp,
};

const v2 = z.object({
  schema: z.literal(envelopeSchemaName),
  table: z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/),
  schemaVersion: z.string().max(64),
  ...header,
  row: z.object({ id: rowId, values: z.record(z.string(), z.string().nullable()) }),
});

// v1: `employes` only; its fields in camelCase (src/tables/employes.ts maps them); a delete's row may hold only its id.
const v1 = z.object({
  schema: z.literal(legacyEnvelopeSchemaName),
  ...header,
  row: z.looseObject({ id: rowId }),
});

export type RowChangedEnvelope = z.infer<typeof v2>;

/** A decoded event, ready for the version guard. */
export type ChangeEvent = RowChange & {
  eventId: string;
  table: string;
  /** The schema version the row was written with ('' for a v1 event). */
  schemaVersion: string;
  baseVersion: bigint;
  committedAt: string;
};

export function toEnvelope(change: OutboxRow, schemaVersion: string): RowChangedEnvelope {
  return {
    schema: envelopeSchemaName,
    table: change.table,
    schemaVersion,
    eventId: change.eventId,
    op: change.op,
    origin: change.row.origin,
    version: change.row.version.toString(),
    baseVersion: change.baseVersion.toString(),
    committedAt: change.capturedAt,
    row: { id: change.row.id, values: change.row.values },
  };
}

export function encodeEnvelope(change: OutboxRow, schemaVersion: string): Buffer {
  return Buffer.from(JSON.stringify(toEnvelope(change, schemaVersion)));
}

/**
 * Parses and checks one message value (v2, or v1 of `employes`); throws EMPSYNC_EVENT_INVALID with the
 * reason. `schemaOnly` skips the fast path (the tests compare both).
 */
export function decodeEnvelope(value: Buffer | string, { schemaOnly = false } = {}): ChangeEvent {
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (error) {
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, 'event is not JSON', { cause: error });
  }
  // What relays write takes the fast path; anything else goes through the schema, which names the problem.
  const fast = schemaOnly ? null : wellFormedV2(json);
  if (fast) return named(fast);
  const legacy = (json as { schema?: unknown } | null)?.schema === legacyEnvelopeSchemaName;
  const parsed = (legacy ? v1 : v2).safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EmpsyncError(
      ErrorCodes.EVENT_INVALID,
      `event violates ${legacy ? legacyEnvelopeSchemaName : envelopeSchemaName}: ${issue.path.join('.')}: ${issue.message}`,
    );
  }
  const e = parsed.data;
  const common = {
    eventId: e.eventId,
    op: e.op,
    baseVersion: BigInt(e.baseVersion),
    committedAt: canonicalInstant(e.committedAt),
  };
  const row = { id: e.row.id, version: BigInt(e.version), origin: e.origin };
  if ('table' in e) return named({ ...common, table: e.table, schemaVersion: e.schemaVersion, row: { ...row, values: e.row.values } });
  return named({ ...common, table: employesTableName, schemaVersion: '', row: { ...row, values: legacyValues(e.row, e.op) } });
}

/** A decoded event whose id may be null: from a relay of an earlier release during an upgrade (see `header`). */
type UnnamedEvent = Omit<ChangeEvent, 'eventId'> & { eventId: string | null };

/** The event with its id: the one it carries, or the one the current relay derives for that change. */
function named(event: UnnamedEvent): ChangeEvent {
  if (event.eventId !== null) return event as ChangeEvent;
  return { ...event, eventId: changeEventId(event.row.origin, event.table, event.op, event.row.id, event.row.version) };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const digits = /^\d{1,19}$/;
const tableName = /^[a-z_][a-z0-9_]{0,62}$/;
const ops = new Set(['c', 'u', 'd', 'r']);
/** The instants last checked by the schema, and their canonical form (a batch's events share a few). */
const checkedInstants = new Map<string, string>();

/**
 * A v2 envelope checked without the schema, or null when anything about it is unusual: accepts only what
 * the schema accepts (the same rules, narrower: lower-case UUIDs; an instant the schema checked before).
 */
function wellFormedV2(json: unknown): UnnamedEvent | null {
  if (json === null || typeof json !== 'object') return null;
  const e = json as Record<string, unknown>;
  const row = e.row as { id?: unknown; values?: unknown } | null | undefined;
  if (
    e.schema !== envelopeSchemaName ||
    typeof e.table !== 'string' ||
    !tableName.test(e.table) ||
    typeof e.schemaVersion !== 'string' ||
    e.schemaVersion.length > 64 ||
    (e.eventId !== null && (typeof e.eventId !== 'string' || !uuid.test(e.eventId))) ||
    typeof e.op !== 'string' ||
    !ops.has(e.op) ||
    (e.origin !== 'mysql' && e.origin !== 'postgres') ||
    typeof e.version !== 'string' ||
    !digits.test(e.version) ||
    typeof e.baseVersion !== 'string' ||
    !digits.test(e.baseVersion) ||
    typeof e.committedAt !== 'string' ||
    row === null ||
    typeof row !== 'object' ||
    typeof row.id !== 'number' ||
    !Number.isInteger(row.id) ||
    row.id < -2147483648 ||
    row.id > 2147483647 ||
    row.values === null ||
    typeof row.values !== 'object' ||
    Array.isArray(row.values)
  ) {
    return null;
  }
  const values = row.values as Record<string, unknown>;
  for (const key in values) {
    const value = values[key];
    if (value !== null && typeof value !== 'string') return null;
  }
  let committedAt = checkedInstants.get(e.committedAt);
  if (committedAt === undefined) {
    if (!isoTimestamp.safeParse(e.committedAt).success) return null;
    committedAt = canonicalInstant(e.committedAt);
    if (checkedInstants.size >= 1024) checkedInstants.clear();
    checkedInstants.set(e.committedAt, committedAt);
  }
  return {
    eventId: e.eventId as string | null,
    op: e.op as ChangeEvent['op'],
    baseVersion: BigInt(e.baseVersion),
    committedAt,
    table: e.table,
    schemaVersion: e.schemaVersion,
    row: { id: row.id, version: BigInt(e.version), origin: e.origin, values: values as RowValues },
  };
}

/** A v1 row's fields as v2 values; a full row must hold every field, as a string. */
function legacyValues(fields: Record<string, unknown>, op: string): RowValues {
  const values: RowValues = {};
  for (const { field, column, instant } of employesV1Fields) {
    const value = fields[field];
    if (typeof value === 'string') values[column] = instant ? canonicalInstant(value) : value;
    else if (op !== 'd') throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `event violates ${legacyEnvelopeSchemaName}: row.${field}: must be a string`);
  }
  return values;
}
