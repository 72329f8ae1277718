// MySQL / MariaDB driver errors (mysql2), classified for the store (src/store/store-errors.ts): the one
// place that knows their codes.
import { errorChain, type StoreErrorKind } from '../store-errors.ts';

const unreachable = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
]);
// ER_LOCK_NOWAIT (3572): MySQL's refusal of a NOWAIT lock (MariaDB says ER_LOCK_WAIT_TIMEOUT at once).
const retryable = new Set(['ER_LOCK_DEADLOCK', 'ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_NOWAIT', 'ER_QUERY_INTERRUPTED']);
const lockNotGranted = new Set(['ER_LOCK_WAIT_TIMEOUT', 'ER_LOCK_NOWAIT']);

/** A lock was not granted (NOWAIT, or the lock wait timed out). */
export function isLockNotGranted(error: unknown): boolean {
  for (const { code } of errorChain(error)) if (typeof code === 'string' && lockNotGranted.has(code)) return true;
  return false;
}

export function classifyMysqlError(error: unknown): StoreErrorKind {
  for (const { code, errno, message } of errorChain(error)) {
    if (typeof code === 'string' && unreachable.has(code)) return { kind: 'unreachable' };
    if (typeof code === 'string' && retryable.has(code)) return { kind: 'retryable' };
    if (/Pool is closed|connection is in closed state|Can't add new command when connection is in closed state|driver has already been destroyed/i.test(message)) {
      return { kind: 'unreachable' };
    }
    // ER_BAD_FIELD_ERROR (1054), ER_NO_SUCH_TABLE (1146): a schema change under way.
    if (code === 'ER_BAD_FIELD_ERROR' || code === 'ER_NO_SUCH_TABLE') return { kind: 'schema' };
    // ER_DUP_ENTRY (1062): "Duplicate entry 'x' for key 'employes.email'".
    if (code === 'ER_DUP_ENTRY' || errno === 1062) return { kind: 'unique', key: /for key '([^']+)'/.exec(message)?.[1] ?? null };
  }
  return { kind: 'rejected' };
}
