// Validation errors (unknown field, wrong argument type, a graphql-armor limit) come without a code:
// give them GRAPHQL_VALIDATION_FAILED so every error of the API carries extensions.code.
import { GraphQLError } from 'graphql';
import type { Plugin } from 'graphql-yoga';

export const validationFailedCode = 'GRAPHQL_VALIDATION_FAILED';

export function useValidationErrorCodes(): Plugin {
  return {
    onValidate() {
      return ({ valid, result, setResult }) => {
        if (valid) return;
        setResult(
          result.map((error) =>
            error.extensions.code
              ? error
              : new GraphQLError(error.message, {
                  nodes: error.nodes,
                  source: error.source,
                  positions: error.positions,
                  extensions: { ...error.extensions, code: validationFailedCode },
                }),
          ),
        );
      };
    },
  };
}
