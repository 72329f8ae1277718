// Values as they travel: one canonical text per logical type, whatever the engine and the writer's
// session gave — integers and decimals as their digits, instants in UTC with microseconds, booleans as
// true/false — and the rules of what both engines can hold. No SQL here.
import type { ColumnType } from './column-types.ts';

/** A row's synced values by column name: canonical text, or null. */
export type RowValues = Record<string, string | null>;

/**
 * JSON.parse that keeps every number as its exact text (a BIGINT or a DECIMAL never goes through a
 * double). An object of strings (what MySQL's capture writes) takes the plain parse alone.
 */
export function parseJsonExact(text: string): unknown {
  const plain: unknown = JSON.parse(text);
  if (plain === null || typeof plain !== 'object' || !Object.values(plain).some((v) => typeof v === 'number' || typeof v === 'object')) {
    return plain;
  }
  return JSON.parse(text, (_key, value: unknown, context?: { source?: string }) =>
    typeof value === 'number' && context?.source !== undefined ? context.source : value,
  );
}

/** Whether the six characters of `value` from `start` are digits. */
function sixDigits(value: string, start: number): boolean {
  for (let i = start; i < start + 6; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

const instant = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,6}))?(Z|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * An instant in UTC with microseconds ('2024-01-02T03:04:05.000001Z') from what an engine gives: MySQL's
 * DATETIME text (UTC by empsync's convention), PostgreSQL's timestamptz with any session offset. A value
 * no ISO-8601 instant can hold ('infinity', a BC date, a year past 9999, a zero date) is kept as it was.
 */
export function canonicalInstant(value: string): string {
  // The two forms the capture writes, without a regular expression: MySQL's DATETIME(6) text
  // ('2024-01-02 03:04:05.123456') and PostgreSQL's timestamptz in UTC ('2024-01-02T03:04:05.123456+00:00').
  // (PostgreSQL's own text of a millisecond instant, '2024-01-02 03:04:05.123+00', is 26 long too.)
  if ((value.length === 26 || (value.length === 32 && value.endsWith('+00:00'))) && value[4] === '-' && value[19] === '.' && sixDigits(value, 20)) {
    return `${value.slice(0, 10)}T${value.slice(11, 26)}Z`;
  }
  if (value.length === 27 && value[10] === 'T' && value[26] === 'Z' && value[19] === '.') return value;
  const match = instant.exec(value);
  if (!match) return value;
  const [, year, month, day, hour, minute, second, fraction = '', zone = 'Z'] = match;
  const micros = fraction.padEnd(6, '0');
  if (zone === 'Z' || /^[+-]00(:?00)?$/.test(zone)) return `${year}-${month}-${day}T${hour}:${minute}:${second}.${micros}Z`;
  const sign = zone.startsWith('-') ? -1 : 1;
  const [offsetHours = '0', offsetMinutes = '0'] = zone.slice(1).replace(':', '').match(/^(\d{2})(\d{2})?$/)!.slice(1);
  const utc =
    Date.UTC(Number(year), Number(month) - 1, Number(day), Number(hour), Number(minute), Number(second)) -
    sign * (Number(offsetHours) * 60 + Number(offsetMinutes || '0')) * 60_000;
  const shifted = new Date(utc);
  if (Number.isNaN(shifted.getTime())) return value;
  const iso = shifted.toISOString(); // YYYY-MM-DDTHH:MM:SS.sssZ, whole seconds from the shift
  return `${iso.slice(0, 19)}.${micros}Z`;
}

/** The canonical text of a value of `type`, from a driver's value or a captured row's JSON value. */
export function canonicalValue(type: ColumnType, raw: unknown): string | null {
  if (raw === null || raw === undefined) return null;
  switch (type.kind) {
    case 'timestamp':
      return raw instanceof Date ? canonicalInstant(raw.toISOString()) : canonicalInstant(String(raw));
    case 'boolean':
      if (raw === true || raw === 1 || raw === '1' || raw === 't' || raw === 'true') return 'true';
      if (raw === false || raw === 0 || raw === '0' || raw === 'f' || raw === 'false') return 'false';
      return String(raw);
    case 'date':
      return raw instanceof Date ? raw.toISOString().slice(0, 10) : String(raw).slice(0, 10);
    case 'double': {
      // MySQL writes 1e300, PostgreSQL 1e+300: the shortest text that reads back as the same double.
      const number = typeof raw === 'number' ? raw : Number(raw);
      return Number.isFinite(number) && String(raw).trim() !== '' ? String(number) : String(raw);
    }
    default:
      return typeof raw === 'string' ? raw : String(raw);
  }
}

/**
 * Why a unique text value ending with a space is refused where it is written (both engines' capture
 * triggers): MySQL's PAD SPACE collation takes it for the same value without the space, PostgreSQL does
 * not. At most 128 characters (MySQL's SIGNAL message limit).
 */
export function trailingSpaceMessage(table: string, column: string): string {
  return `EMPSYNC_VALUE_NOT_PORTABLE: ${table}.${column} is unique and ends with a space (MySQL ignores it, PostgreSQL does not)`.slice(0, 128);
}

/** MySQL's DATETIME range (PostgreSQL's timestamptz is wider and has ±infinity), UTC, microseconds. */
export const portableInstants = { min: '1000-01-01T00:00:00.000000Z', max: '9999-12-31T23:59:59.999999Z' } as const;

const canonicalShape = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/;

/** A canonical instant's fields name a real moment (no 25:00, no 31 February). */
function realInstant(value: string): boolean {
  const day = Number(value.slice(8, 10));
  const month = Number(value.slice(5, 7));
  const clock = Number(value.slice(11, 13)) < 24 && Number(value.slice(14, 16)) < 60 && Number(value.slice(17, 19)) < 60;
  if (!clock || month < 1 || month > 12 || day < 1) return false;
  if (day <= 28) return true;
  return new Date(Date.UTC(Number(value.slice(0, 4)), month - 1, day)).getUTCDate() === day;
}

const decimalPatterns = new Map<string, RegExp>();

/** DECIMAL(p,s) as text: at most p−s digits before the point, at most s after. */
function decimalPattern(precision: number, scale: number): RegExp {
  const key = `${precision},${scale}`;
  let pattern = decimalPatterns.get(key);
  if (!pattern) {
    pattern = new RegExp(`^-?\\d{1,${Math.max(1, precision - scale)}}(\\.\\d{1,${scale}})?$`);
    decimalPatterns.set(key, pattern);
  }
  return pattern;
}

/** The integer ranges both engines share, by kind. */
const integerRanges = {
  smallint: [-32768n, 32767n],
  integer: [-2147483648n, 2147483647n],
  bigint: [-9223372036854775808n, 9223372036854775807n],
} as const;

/**
 * Why `value` cannot be held by a column of `type` in both engines (null: it can). Text cannot hold
 * U+0000 in PostgreSQL; MySQL's DECIMAL has no NaN; MySQL's DATETIME stops at 1000 and 9999.
 */
export function unportableValue(type: ColumnType, value: string | null, nullable: boolean): string | null {
  if (value === null) return nullable ? null : 'is null in a NOT NULL column';
  switch (type.kind) {
    case 'text':
      if (value.includes('\u0000')) return 'holds the character U+0000, which PostgreSQL text cannot store';
      // UTF-16 units are never fewer than code points: count the latter only when the former exceed.
      return type.length !== null && value.length > type.length && [...value].length > type.length
        ? `is longer than ${type.length} characters`
        : null;
    case 'decimal': {
      const pattern = decimalPattern(type.precision, type.scale);
      const wholeOnly = type.scale === 0 && /^-?\d+$/.test(value) && value.replace('-', '').length <= type.precision;
      return pattern.test(value) || wholeOnly
        ? null
        : `${JSON.stringify(value)} is not a DECIMAL(${type.precision},${type.scale}) both engines hold (NaN and infinities exist only in PostgreSQL)`;
    }
    case 'smallint':
    case 'integer':
    case 'bigint': {
      if (!/^-?\d+$/.test(value)) return `${JSON.stringify(value)} is not an integer`;
      const [low, high] = integerRanges[type.kind];
      const n = BigInt(value);
      return n < low || n > high ? `${value} is outside the ${type.kind} range` : null;
    }
    case 'timestamp': {
      const iso = canonicalShape.test(value);
      const valid = iso && value >= portableInstants.min && value <= portableInstants.max && realInstant(value);
      return valid
        ? null
        : `${JSON.stringify(value)} is outside 1000-01-01 00:00:00..9999-12-31 23:59:59.999999 UTC, the instants MySQL's DATETIME holds`;
    }
    case 'date': {
      const valid = /^\d{4}-\d{2}-\d{2}$/.test(value) && value >= '1000-01-01' && value <= '9999-12-31' &&
        new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) === value;
      return valid ? null : `${JSON.stringify(value)} is not a date both engines hold`;
    }
    case 'boolean':
      return value === 'true' || value === 'false' ? null : `${JSON.stringify(value)} is not a boolean`;
    case 'double':
      return /^-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(value) ? null : `${JSON.stringify(value)} is not a finite number`;
  }
}
