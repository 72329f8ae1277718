// Conversions between what the drivers return and the dialect-agnostic EmployeeRow: timestamps as
// ISO-8601 UTC with microseconds, versions as bigint, decimals as strings. No SQL here.
import type { EmployeeRow, EmployeeView, StoreName, SyncedRow } from './types.ts';

const timestampPattern = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?(?:Z|[+-]00(?::?00)?)?$/;

/** '2024-01-02 03:04:05.12+00' or '2024-01-02 03:04:05' (UTC) → '2024-01-02T03:04:05.120000Z'. */
export function toIsoTimestamp(value: string | Date): string {
  if (value instanceof Date) return value.toISOString().replace('Z', '000Z');
  const match = timestampPattern.exec(value);
  if (!match) throw new RangeError(`not a UTC timestamp: ${value}`);
  return `${match[1]}T${match[2]}.${(match[3] ?? '').padEnd(6, '0')}Z`;
}

/**
 * A timestamp as a store returned it, in ISO-8601 UTC when it is one; any other value a column holds
 * ('infinity', a year past 9999, a BC date, MariaDB's zero date) is kept as the driver's text, so
 * reading a row never fails on one unusual value (the relay parks such a row, see portable-values.ts).
 */
export function storedTimestamp(value: string | Date): string {
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? String(value) : toIsoTimestamp(value);
  return timestampPattern.test(value) ? toIsoTimestamp(value) : value;
}

/** ISO-8601 → 'YYYY-MM-DD HH:MM:SS.ffffff', the literal both MySQL and PostgreSQL read as UTC here. */
export function toSqlTimestamp(iso: string): string {
  return toIsoTimestamp(normalizeIsoInput(iso)).replace('T', ' ').replace('Z', '');
}

/** Accepts any ISO-8601 instant (with an offset) and returns it in UTC with microseconds. */
export function normalizeIsoInput(value: string): string {
  if (timestampPattern.test(value)) return value;
  const parsed = new Date(value);
  if (Number.isNaN(parsed.getTime())) throw new RangeError(`not an ISO-8601 timestamp: ${value}`);
  return parsed.toISOString().replace('Z', '000Z');
}

export interface RawEmployeeRow {
  id: number | string;
  nom: string;
  prenom: string;
  email: string;
  poste: string;
  salaire: string | number;
  department: string;
  date_embauche: string | Date;
  created_at: string | Date;
  updated_at: string | Date;
  sync_version: string | number | bigint;
  sync_origin: string;
}

export type RawEmployeeView = Omit<RawEmployeeRow, 'created_at' | 'updated_at'>;

export function fromRawView(raw: RawEmployeeView): EmployeeView {
  return {
    id: Number(raw.id),
    nom: raw.nom,
    prenom: raw.prenom,
    email: raw.email,
    poste: raw.poste,
    salaire: typeof raw.salaire === 'number' ? raw.salaire.toFixed(2) : raw.salaire,
    department: raw.department,
    dateEmbauche: storedTimestamp(raw.date_embauche),
    version: BigInt(raw.sync_version),
    origin: raw.sync_origin as StoreName,
  };
}

export function fromRawRow(raw: RawEmployeeRow): EmployeeRow {
  return { ...fromRawView(raw), createdAt: storedTimestamp(raw.created_at), updatedAt: storedTimestamp(raw.updated_at) };
}

/** What the API reads: no created_at, updated_at (never shown; their conversion was a third of a row's). */
export const employeeViewColumns = [
  'id',
  'nom',
  'prenom',
  'email',
  'poste',
  'salaire',
  'department',
  'date_embauche',
  'sync_version',
  'sync_origin',
] as const;

export const employeeColumns = [...employeeViewColumns, 'created_at', 'updated_at'] as const;

/**
 * An employee from a synced row's canonical values (an event's row): null when the row lacks a field of
 * the contract (a delete re-published from a tombstone). Columns besides the contract's go to `extra`.
 */
export function employeeFromValues(row: SyncedRow): EmployeeRow | null {
  const v = row.values;
  const text = (column: string) => v[column] ?? null;
  const fields = employeeColumns.filter((c) => c !== 'id' && c !== 'sync_version' && c !== 'sync_origin');
  if (fields.some((column) => typeof text(column) !== 'string')) return null;
  const contract = new Set<string>(employeeColumns);
  const extraEntries = Object.entries(v).filter(([column]) => !contract.has(column));
  return {
    id: row.id,
    nom: text('nom')!,
    prenom: text('prenom')!,
    email: text('email')!,
    poste: text('poste')!,
    salaire: text('salaire')!,
    department: text('department')!,
    dateEmbauche: text('date_embauche')!,
    createdAt: text('created_at')!,
    updatedAt: text('updated_at')!,
    version: row.version,
    origin: row.origin,
    ...(extraEntries.length ? { extra: Object.fromEntries(extraEntries) } : {}),
  };
}
