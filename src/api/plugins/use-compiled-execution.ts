// Queries and mutations run as JavaScript compiled once per document (graphql-jit, through envelop's
// plugin) instead of graphql-js walking the document on every request. The compiled form is kept beside
// the parsed document, which yoga's parser cache holds (bounded), so it is freed with it. Subscriptions
// keep graphql-js: they are long-lived, so compiling them gains nothing.
//
// graphql-jit's errors for variables that do not coerce name the wrong variable and carry no extensions;
// when a compiled run is refused that way, the errors are replaced with graphql-js's own for the same
// variables, so callers read the same messages on either engine.
import { useGraphQlJit } from '@envelop/graphql-jit';
import { getOperationAST, Kind, type ExecutionResult } from 'graphql';
import { getVariableValues } from 'graphql/execution/values.js';
import type { Plugin } from 'graphql-yoga';

export function useCompiledExecution(): Plugin {
  // The plugin keeps one compiled form per document, compiled for the first operationName it met: a
  // document of several operations (GraphiQL's tabs, a client's saved queries) would then run that one
  // whatever operationName asks. Only one-operation documents are compiled; the others run on graphql-js.
  const { onExecute: compile } = useGraphQlJit({}, { enableIf: ({ document }) => document.definitions.filter((d) => d.kind === Kind.OPERATION_DEFINITION).length === 1 });
  return {
    onExecute(payload) {
      void compile?.(payload as never);
      const { schema, document, operationName, variableValues } = payload.args;
      return {
        onExecuteDone({ result, setResult }) {
          const single = result as ExecutionResult;
          if (single.data !== undefined || !single.errors?.every((error) => error.path === undefined)) return;
          const operation = getOperationAST(document, operationName);
          if (!operation) return;
          const coerced = getVariableValues(
            schema,
            operation.variableDefinitions ?? [],
            variableValues ?? {},
          );
          if (coerced.errors) setResult({ errors: coerced.errors });
        },
      };
    },
  } as Plugin;
}
