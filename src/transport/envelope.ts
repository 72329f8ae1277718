// The event carried on `employes-sync`: a versioned JSON envelope, validated when built (relay) and
// when read (sink). Schema reference: docs/event-envelope.md. Key = employee id as a decimal string.
import { z } from 'zod';
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { normalizeIsoInput } from '../store/row-format.ts';
import type { EmployeeRow, OutboxRow } from '../store/types.ts';

export const envelopeSchemaName = 'empsync.employee-changed.v1';

const decimalString = z.string().regex(/^-?\d{1,8}(\.\d{1,2})?$/, 'salaire must be a DECIMAL(10,2) string');
const versionString = z.string().regex(/^\d{1,19}$/, 'must be a non-negative integer string');
const isoTimestamp = z.iso.datetime({ offset: true, precision: undefined });
const text = (max: number) => z.string().min(1).max(max);
const origin = z.enum(['mysql', 'postgres']);

export const envelopeSchema = z.object({
  schema: z.literal(envelopeSchemaName),
  eventId: z.string().uuid(),
  op: z.enum(['c', 'u', 'd', 'r']),
  origin,
  version: versionString,
  baseVersion: versionString,
  committedAt: isoTimestamp,
  row: z.object({
    id: z.number().int().min(-2147483648).max(2147483647),
    nom: text(100),
    prenom: text(100),
    email: text(255),
    poste: text(100),
    salaire: decimalString,
    department: text(100),
    dateEmbauche: isoTimestamp,
    createdAt: isoTimestamp,
    updatedAt: isoTimestamp,
  }),
});

export type EmployeeChangedEnvelope = z.infer<typeof envelopeSchema>;

/** A decoded event, ready for the version guard. */
export interface EmployeeChangedEvent {
  eventId: string;
  op: OutboxRow['op'];
  row: EmployeeRow;
  baseVersion: bigint;
  committedAt: string;
}

export function toEnvelope(change: OutboxRow): EmployeeChangedEnvelope {
  const { row } = change;
  return {
    schema: envelopeSchemaName,
    eventId: change.eventId,
    op: change.op,
    origin: row.origin,
    version: row.version.toString(),
    baseVersion: change.baseVersion.toString(),
    committedAt: change.capturedAt,
    row: {
      id: row.id,
      nom: row.nom,
      prenom: row.prenom,
      email: row.email,
      poste: row.poste,
      salaire: row.salaire,
      department: row.department,
      dateEmbauche: row.dateEmbauche,
      createdAt: row.createdAt,
      updatedAt: row.updatedAt,
    },
  };
}

export function encodeEnvelope(change: OutboxRow): Buffer {
  return Buffer.from(JSON.stringify(toEnvelope(change)));
}

/** Parses and validates one message value; throws EMPSYNC_EVENT_INVALID with the reason. */
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
  return {
    eventId: e.eventId,
    op: e.op,
    baseVersion: BigInt(e.baseVersion),
    committedAt: normalizeIsoInput(e.committedAt),
    row: {
      ...e.row,
      dateEmbauche: normalizeIsoInput(e.row.dateEmbauche),
      createdAt: normalizeIsoInput(e.row.createdAt),
      updatedAt: normalizeIsoInput(e.row.updatedAt),
      version: BigInt(e.version),
      origin: e.origin,
    },
  };
}
