// Error masking: a caller sees the message and code of errors meant for it (GraphQLError with a code,
// EmpsyncError) and "Unexpected error." with INTERNAL_SERVER_ERROR and the request id for anything else.
// A store's error (its message is the driver's) shows only its code when trying again may help
// (EMPSYNC_DEPENDENCY_UNAVAILABLE, `retryable`), else it is masked as unexpected. The cause of a masked
// error goes to the log under the same request id.
import { GraphQLError, type ExecutionResult } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCodes, isEmpsyncError } from '../../errors.ts';
import type { Logger } from '../../logger.ts';
import type { ApiContext } from '../builder.ts';

export const unexpectedErrorMessage = 'Unexpected error.';
export const unavailableMessage = 'A database is unavailable or busy: try again.';

/** Returns the error the caller may see for `error`, raised while executing request `requestId`. */
export function maskExecutionError(error: GraphQLError, requestId: string, logger: Logger): GraphQLError {
  const original = error.originalError;
  const location = { nodes: error.nodes, source: error.source, positions: error.positions, path: error.path };
  // Without a path the error is no resolver's: GraphQL refused the variables (a wrong type, a missing
  // required one) before running anything. The message speaks of the caller's own input.
  if (error.path === undefined) {
    if (typeof error.extensions?.code === 'string') return error;
    return new GraphQLError(error.message, {
      ...location,
      extensions: { ...error.extensions, code: ErrorCodes.BAD_USER_INPUT },
    });
  }
  // Raised by GraphQL itself during execution (a null for a non-null field): nothing secret to hide.
  if (original === undefined || original === null) return error;
  if (original instanceof GraphQLError && typeof original.extensions.code === 'string') return error;
  if (isEmpsyncError(original) && original.details.store !== undefined) {
    // A store's error: its message is the driver's. The caller learns whether trying again may help.
    logger.error({ err: original, requestId, path: error.path }, 'database error in a GraphQL resolver');
    if (original.retryable && original.code === ErrorCodes.DEPENDENCY_UNAVAILABLE) {
      return new GraphQLError(unavailableMessage, {
        ...location,
        extensions: { code: original.code, retryable: true, requestId },
      });
    }
  } else if (isEmpsyncError(original)) {
    return new GraphQLError(original.message, {
      ...location,
      extensions: { ...original.details, code: original.code, requestId },
    });
  }
  if (!isEmpsyncError(original)) logger.error({ err: original, requestId, path: error.path }, 'unexpected error in a GraphQL resolver');
  return new GraphQLError(unexpectedErrorMessage, {
    ...location,
    extensions: { code: ErrorCodes.INTERNAL, requestId },
  });
}

export function useErrorMasking(logger: Logger): Plugin<ApiContext> {
  return {
    onExecute({ args }) {
      const { requestId } = args.contextValue;
      return {
        onExecuteDone({ result, setResult }) {
          const single = result as ExecutionResult;
          if (!single.errors?.length) return;
          setResult({
            ...single,
            errors: single.errors.map((error) => maskExecutionError(error, requestId, logger)),
          });
        },
      };
    },
  };
}
