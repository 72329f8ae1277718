// One error type for the whole service. Every code a user can meet is listed, with what to do,
// in docs/errors.md; GraphQL errors carry the code in `extensions.code`.

export const ErrorCodes = {
  CONFIG_INVALID: 'EMPSYNC_CONFIG_INVALID',
  DEPENDENCY_UNAVAILABLE: 'EMPSYNC_DEPENDENCY_UNAVAILABLE',
  MIGRATION_FAILED: 'EMPSYNC_MIGRATION_FAILED',
  NOT_MIGRATED: 'EMPSYNC_NOT_MIGRATED',
  EVENT_INVALID: 'EMPSYNC_EVENT_INVALID',
  APPLY_REJECTED: 'EMPSYNC_APPLY_REJECTED',
  PUBLISH_FAILED: 'EMPSYNC_PUBLISH_FAILED',
  LOG_CHANGED: 'EMPSYNC_LOG_CHANGED',
  OFFSET_OUT_OF_RANGE: 'EMPSYNC_OFFSET_OUT_OF_RANGE',
  OFFSETS_REWOUND: 'EMPSYNC_OFFSETS_REWOUND',
  TOMBSTONES_EXPIRED: 'EMPSYNC_TOMBSTONES_EXPIRED',
  VALUE_NOT_PORTABLE: 'EMPSYNC_VALUE_NOT_PORTABLE',
  SCHEMA_MISMATCH: 'EMPSYNC_SCHEMA_MISMATCH',
  DRIFT: 'EMPSYNC_DRIFT',
  BAD_USER_INPUT: 'BAD_USER_INPUT',
  CONFLICT: 'CONFLICT',
  TOO_MANY_ROWS: 'TOO_MANY_ROWS',
  TOO_MANY_STREAMS: 'TOO_MANY_STREAMS',
  RATE_LIMITED: 'RATE_LIMITED',
  COST_LIMIT_EXCEEDED: 'COST_LIMIT_EXCEEDED',
  NOT_FOUND: 'NOT_FOUND',
  UNAUTHENTICATED: 'UNAUTHENTICATED',
  FORBIDDEN: 'FORBIDDEN',
  INTERNAL: 'INTERNAL_SERVER_ERROR',
} as const;

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes];

export interface EmpsyncErrorOptions {
  cause?: unknown;
  /** Structured details safe to show to the caller (field names, limits). */
  details?: Record<string, unknown>;
  /** True when the same operation may succeed if tried again as it is (a lost connection, a deadlock). */
  retryable?: boolean;
}

export class EmpsyncError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;
  /** True when the same operation may succeed if tried again as it is (as platformatic/kafka's `canRetry`). */
  readonly retryable: boolean;

  constructor(code: ErrorCode, message: string, options: EmpsyncErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'EmpsyncError';
    this.code = code;
    this.details = options.details ?? {};
    this.retryable = options.retryable ?? false;
  }
}

export function isEmpsyncError(error: unknown, code?: ErrorCode): error is EmpsyncError {
  return error instanceof EmpsyncError && (code === undefined || error.code === code);
}

/** The message of any thrown value, for logs and DLQ reasons. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
