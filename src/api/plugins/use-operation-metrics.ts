// graphql_requests_total{operation,success} and graphql_response_time_seconds{operation}, once per
// executed operation. Label values stay bounded: a root field name of the schema, 'anonymous', or
// 'invalid' for documents that fail parsing or validation (they never execute).
import { getOperationAST, Kind, type DocumentNode, type GraphQLSchema } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { Metrics } from '../../metrics/metrics.ts';

function rootFieldNames(schema: GraphQLSchema): Set<string> {
  const names = new Set<string>();
  for (const type of [schema.getQueryType(), schema.getMutationType(), schema.getSubscriptionType()]) {
    for (const name of Object.keys(type?.getFields() ?? {})) names.add(name);
  }
  return names;
}

/** The operation's name when it is a root field of the schema, else its first root field, else 'anonymous'. */
export function operationLabel(
  document: DocumentNode,
  operationName: string | null | undefined,
  knownFields: Set<string>,
): string {
  const operation = getOperationAST(document, operationName);
  const name = operation?.name?.value;
  if (name && knownFields.has(name)) return name;
  const first = operation?.selectionSet.selections.find((selection) => selection.kind === Kind.FIELD);
  if (first?.kind === Kind.FIELD && knownFields.has(first.name.value)) return first.name.value;
  return 'anonymous';
}

export function useOperationMetrics(metrics: Metrics, schema: GraphQLSchema): Plugin {
  const knownFields = rootFieldNames(schema);
  return {
    onParse() {
      return ({ result }) => {
        if (result instanceof Error) metrics.graphqlRequests.inc({ operation: 'invalid', success: 'false' });
      };
    },
    onValidate() {
      return ({ valid }) => {
        if (!valid) metrics.graphqlRequests.inc({ operation: 'invalid', success: 'false' });
      };
    },
    onExecute({ args }) {
      const operation = operationLabel(args.document, args.operationName, knownFields);
      const started = performance.now();
      return {
        onExecuteDone({ result }) {
          const failed = 'errors' in result && (result.errors?.length ?? 0) > 0;
          metrics.graphqlRequests.inc({ operation, success: failed ? 'false' : 'true' });
          metrics.graphqlResponseTime.observe({ operation }, (performance.now() - started) / 1000);
        },
      };
    },
  };
}
