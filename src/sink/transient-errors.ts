// Which failures of a sink transaction are worth retrying as they are (connection loss, deadlock,
// lock timeout, serialization failure, server shutting down) and which mean the data is rejected.
import { ErrorCodes, isEmpsyncError } from '../errors.ts';

const transientMysqlCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'PROTOCOL_CONNECTION_LOST',
  'ER_LOCK_DEADLOCK',
  'ER_LOCK_WAIT_TIMEOUT',
  'ER_CON_COUNT_ERROR',
  'ER_SERVER_SHUTDOWN',
  'ER_QUERY_INTERRUPTED',
]);

// PostgreSQL SQLSTATE classes 08 (connection), 40 (rollback: serialization, deadlock), 53 (resources),
// 57 (operator intervention: shutdown), 55P03 (lock not available).
const transientPostgresState = /^(08|40|53|57)|^55P03$/;

export function isTransientError(error: unknown): boolean {
  if (isEmpsyncError(error, ErrorCodes.PUBLISH_FAILED) || isEmpsyncError(error, ErrorCodes.DEPENDENCY_UNAVAILABLE)) {
    return true;
  }
  for (let current: unknown = error, depth = 0; current && depth < 5; depth++) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string') {
      if (transientMysqlCodes.has(code)) return true;
      if (/^[0-9A-Z]{5}$/.test(code) && transientPostgresState.test(code)) return true;
    }
    const message = current instanceof Error ? current.message : '';
    if (/Connection terminated|connection is closed|Pool is closed|timeout exceeded when trying to connect/i.test(message)) {
      return true;
    }
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}
