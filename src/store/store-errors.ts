// What a store's driver error means, whatever the dialect: each store folder classifies its own driver's
// errors (src/store/<dialect>/errors.ts) and the store raises one EmpsyncError with a `retryable` flag, so
// no stage above the store reads a driver error code.
import { EmpsyncError, ErrorCodes, isEmpsyncError, type ErrorCode } from '../errors.ts';

/**
 * - `unreachable`: the server is not accepting connections (yet, or any more);
 * - `retryable`: the same statement may succeed as it is (lost connection, deadlock, lock timeout,
 *   serialization failure, server shutting down);
 * - `unique`: a unique key refused the row (`key` names the constraint or index when the driver says);
 * - `schema`: a column or table named is not there (a schema change under way): retryable once the
 *   schema was read again;
 * - `rejected`: the data itself is refused (a constraint, a type, a length): retrying changes nothing.
 */
export type StoreErrorKind =
  | { kind: 'unreachable' }
  | { kind: 'retryable' }
  | { kind: 'unique'; key: string | null }
  | { kind: 'schema' }
  | { kind: 'rejected' };

export type ClassifyError = (error: unknown) => StoreErrorKind;

/** The driver error (or one of its causes) as the store's EmpsyncError; an EmpsyncError passes unchanged. */
export function storeError(error: unknown, classify: ClassifyError, store: string): unknown {
  if (isEmpsyncError(error)) return error;
  const kind = classify(error);
  const message = error instanceof Error ? error.message : String(error);
  const raise = (code: ErrorCode, retryable: boolean, details: Record<string, unknown> = {}) =>
    new EmpsyncError(code, `${store}: ${message}`, { cause: error, retryable, details: { store, ...details } });
  switch (kind.kind) {
    case 'unreachable':
    case 'retryable':
      return raise(ErrorCodes.DEPENDENCY_UNAVAILABLE, true, { dependency: store });
    case 'unique':
      return raise(ErrorCodes.CONFLICT, false, { key: kind.key });
    case 'schema':
      return raise(ErrorCodes.SCHEMA_MISMATCH, true);
    case 'rejected':
      return raise(ErrorCodes.APPLY_REJECTED, false);
  }
}

/**
 * The port with every method raising the store's EmpsyncError instead of its driver's errors (an
 * EmpsyncError a caller's callback throws, as a sink's inside `transaction`, passes unchanged).
 */
export function withStoreErrors<T extends object>(port: T, classify: ClassifyError, store: string): T {
  return new Proxy(port, {
    get(target, property) {
      const value: unknown = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        try {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args);
          return result instanceof Promise ? result.catch((error: unknown) => Promise.reject(storeError(error, classify, store))) : result;
        } catch (error) {
          throw storeError(error, classify, store);
        }
      };
    },
  });
}

/** True when trying the same operation again may succeed (a store's retryable error, a dependency away). */
export function isRetryable(error: unknown): boolean {
  return (
    isEmpsyncError(error) &&
    (error.retryable || error.code === ErrorCodes.PUBLISH_FAILED || error.code === ErrorCodes.DEPENDENCY_UNAVAILABLE)
  );
}

/** Walks an error and its causes (drivers wrap: kysely, pg-pool), giving each code and message. */
export function* errorChain(error: unknown): Generator<{ code: unknown; errno: unknown; message: string; cause: object }> {
  for (let current: unknown = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, errno } = current as { code?: unknown; errno?: unknown };
    yield { code, errno, message: current instanceof Error ? current.message : '', cause: current };
    current = (current as { cause?: unknown }).cause;
  }
}
