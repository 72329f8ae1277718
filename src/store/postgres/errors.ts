// PostgreSQL driver errors (pg), classified for the store (src/store/store-errors.ts): the one place that
// knows their SQLSTATEs.
import { errorChain, type StoreErrorKind } from '../store-errors.ts';

const socketCodes = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

export function classifyPostgresError(error: unknown): StoreErrorKind {
  for (const { code, message, cause } of errorChain(error)) {
    if (typeof code === 'string' && socketCodes.has(code)) return { kind: 'unreachable' };
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
      // 08: connection exception; 57P01-57P03: shutdown, crash, starting up.
      if (/^08|^57P0[1-3]$/.test(code)) return { kind: 'unreachable' };
      // 40: transaction rollback (serialization, deadlock); 53: insufficient resources; 57014: query
      // cancelled; 55P03: lock not available.
      if (/^(40|53)|^57014$|^55P03$/.test(code)) return { kind: 'retryable' };
      // 42703 undefined_column, 42P01 undefined_table: a schema change under way.
      if (code === '42703' || code === '42P01') return { kind: 'schema' };
      if (code === '23505') return { kind: 'unique', key: (cause as { constraint?: string }).constraint ?? null };
    }
    if (/Connection terminated|connection is closed|Pool is closed|timeout exceeded when trying to connect|Client has encountered a connection error|Cannot use a pool after calling end|driver has already been destroyed/i.test(message)) {
      return { kind: 'unreachable' };
    }
  }
  return { kind: 'rejected' };
}
