// The event carried on `employes-sync`: a versioned JSON envelope, read and checked by every sink.
// Schema reference: docs/event-envelope.md. Key = employee id as a decimal string.
// The envelope checks shape, not business rules: any value a column accepts travels exactly (empty
// and whitespace-only text, any length the column allows, 4-byte characters, negative decimals).
// Business rules belong to the API's input; what the other engine cannot hold is stopped at the
// source (src/store/portable-values.ts). A delete needs only its id, version and origin.
import { z } from 'zod';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { normalizeIsoInput } from '../store/row-format.ts';
import type { DeletedRow, EmployeeRow, OutboxRow, RowChange } from '../store/types.ts';

export const envelopeSchemaName = 'empsync.employee-changed.v1';

const decimalString = z.string().regex(/^-?\d+(\.\d+)?$/, 'must be a decimal string');
const versionString = z.string().regex(/^\d{1,19}$/, 'must be a non-negative integer string');
const isoTimestamp = z.iso.datetime({ offset: true, precision: undefined });
const origin = z.enum(['mysql', 'postgres']);
const rowId = z.number().int().min(-2147483648).max(2147483647);

const fullRow = z.object({
  id: rowId,
  nom: z.string(),
  prenom: z.string(),
  email: z.string(),
  poste: z.string(),
  salaire: decimalString,
  department: z.string(),
  dateEmbauche: isoTimestamp,
  createdAt: isoTimestamp,
  updatedAt: isoTimestamp,
});

const header = {
  schema: z.literal(envelopeSchemaName),
  eventId: z.string().uuid(),
  origin,
  version: versionString,
  baseVersion: versionString,
  committedAt: isoTimestamp,
};

export const envelopeSchema = z.discriminatedUnion('op', [
  z.object({ ...header, op: z.enum(['c', 'u', 'r']), row: fullRow }),
  // The row before the delete, as it was read (informative); only its id is required.
  z.object({ ...header, op: z.literal('d'), row: z.looseObject({ id: rowId }) }),
]);

export type EmployeeChangedEnvelope = z.infer<typeof envelopeSchema>;

/** A decoded event, ready for the version guard. */
export type EmployeeChangedEvent = RowChange & {
  eventId: string;
  baseVersion: bigint;
  committedAt: string;
};

const rowFields = ['nom', 'prenom', 'email', 'poste', 'salaire', 'department', 'dateEmbauche', 'createdAt', 'updatedAt'] as const;

/** True when a change carries the whole row (every change but a delete re-published from a tombstone). */
export function hasFullRow(row: EmployeeRow | DeletedRow): row is EmployeeRow {
  return rowFields.every((field) => typeof row[field] === 'string');
}

export function toEnvelope(change: OutboxRow): EmployeeChangedEnvelope {
  const { row } = change;
  const base = {
    schema: envelopeSchemaName,
    eventId: change.eventId,
    origin: row.origin,
    version: row.version.toString(),
    baseVersion: change.baseVersion.toString(),
    committedAt: change.capturedAt,
  } as const;
  const fields: Record<string, string> = {};
  for (const field of rowFields) {
    const value = row[field];
    if (value !== undefined) fields[field] = value;
  }
  if (change.op === 'd') return { ...base, op: 'd', row: { id: row.id, ...fields } };
  return { ...base, op: change.op, row: { id: row.id, ...(fields as Omit<z.infer<typeof fullRow>, 'id'>) } };
}

export function encodeEnvelope(change: OutboxRow): Buffer {
  return Buffer.from(JSON.stringify(toEnvelope(change)));
}

/** Parses and checks one message value; throws EMPSYNC_EVENT_INVALID with the reason. */
export function decodeEnvelope(value: Buffer | string): EmployeeChangedEvent {
  let json: unknown;
  try {
    json = JSON.parse(typeof value === 'string' ? value : value.toString('utf8'));
  } catch (error) {
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, 'event is not JSON', { cause: error });
  }
  const parsed = envelopeSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new EmpsyncError(ErrorCodes.EVENT_INVALID, `event violates ${envelopeSchemaName}: ${issue.path.join('.')}: ${issue.message}`);
  }
  const e = parsed.data;
  const common = {
    eventId: e.eventId,
    baseVersion: BigInt(e.baseVersion),
    committedAt: normalizeIsoInput(e.committedAt),
  };
  const version = BigInt(e.version);
  if (e.op === 'd') {
    const row: DeletedRow = { id: e.row.id, version, origin: e.origin };
    for (const field of rowFields) {
      const value = e.row[field];
      if (typeof value === 'string') row[field] = value;
    }
    return { ...common, op: 'd', row };
  }
  const row: EmployeeRow = {
    ...e.row,
    dateEmbauche: normalizeIsoInput(e.row.dateEmbauche),
    createdAt: normalizeIsoInput(e.row.createdAt),
    updatedAt: normalizeIsoInput(e.row.updatedAt),
    version,
    origin: e.origin,
  };
  return { ...common, op: e.op, row };
}
