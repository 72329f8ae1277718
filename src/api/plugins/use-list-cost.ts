// Rows one request may make the server read (docs/security.md): graphql-armor's cost limit counts
// fields, not the rows a list returns, so 15 aliases of the whole list, each row asking its syncState
// (a MySQL read), would pass it. Before execution, with the variables known, each list field counts its
// page size (its `limit`/`first`, else the most it may return) times one plus the fields of each row that
// read a database; a request over API_MAX_QUERY_ROWS is refused with COST_LIMIT_EXCEEDED, and nothing runs.
import { GraphQLError, Kind, type DefinitionNode, type FieldNode, type FragmentDefinitionNode, type SelectionSetNode, type ValueNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { ErrorCodes } from '../../errors.ts';
import { defaultConnectionPageSize, maxConnectionPageSize } from '../employees-connection.ts';
import { maxPageSize } from '../queries.ts';

/** The list fields: the argument that sizes them, and their size without it. */
function listSizes(maxRows: number): Record<string, { argument: string | null; fallback: number; max: number }> {
  return {
    employes: { argument: 'limit', fallback: maxRows, max: maxPageSize },
    employesParDepartment: { argument: null, fallback: maxRows, max: maxRows },
    employesConnection: { argument: 'first', fallback: defaultConnectionPageSize, max: maxConnectionPageSize },
    syncConflicts: { argument: 'limit', fallback: 50, max: 500 },
    deadLetters: { argument: 'limit', fallback: 100, max: 1000 },
  };
}

/** Fields of a row that read a database for that row (beyond the list's own read). */
const perRowReads = new Set(['syncState']);

export function useListCost(options: { maxRows: number; maxQueryRows: number }): Plugin {
  const sizes = listSizes(options.maxRows);
  return {
    onExecute({ args, setResultAndStopExecution }) {
      const fragments = new Map<string, FragmentDefinitionNode>();
      for (const definition of args.document.definitions) {
        if (definition.kind === Kind.FRAGMENT_DEFINITION) fragments.set(definition.name.value, definition);
      }
      const variables = (args.variableValues ?? {}) as Record<string, unknown>;
      const sizeOf = (value: ValueNode | undefined): number | null => {
        if (!value) return null;
        if (value.kind === Kind.INT) return Number(value.value);
        if (value.kind === Kind.VARIABLE) {
          const given = variables[value.name.value];
          return typeof given === 'number' ? given : null;
        }
        return null;
      };
      // The sum of `field` over the fields of a selection, through inline fragments and fragment spreads.
      const sum = (set: SelectionSetNode | undefined, seen: Set<string>, field: (node: FieldNode, seen: Set<string>) => number): number => {
        let total = 0;
        for (const selection of set?.selections ?? []) {
          if (selection.kind === Kind.FIELD) total += field(selection, seen);
          else if (selection.kind === Kind.INLINE_FRAGMENT) total += sum(selection.selectionSet, seen, field);
          else if (!seen.has(selection.name.value)) {
            total += sum(fragments.get(selection.name.value)?.selectionSet, new Set([...seen, selection.name.value]), field);
          }
        }
        return total;
      };
      // Reads per row under a list: its selection's per-row database fields.
      const readsPerRow = (node: FieldNode, seen: Set<string>): number =>
        (perRowReads.has(node.name.value) ? 1 : 0) + sum(node.selectionSet, seen, readsPerRow);
      const rows = (node: FieldNode, seen: Set<string>): number => {
        const list = sizes[node.name.value];
        if (!list) return sum(node.selectionSet, seen, rows);
        const given = list.argument ? sizeOf(node.arguments?.find((a) => a.name.value === list.argument)?.value) : null;
        const size = Math.min(given ?? list.fallback, list.max);
        return Math.max(0, size) * (1 + sum(node.selectionSet, seen, readsPerRow));
      };
      const operation = args.document.definitions.find(
        (d: DefinitionNode) => d.kind === Kind.OPERATION_DEFINITION && (args.operationName == null || d.name?.value === args.operationName),
      );
      if (!operation || operation.kind !== Kind.OPERATION_DEFINITION) return;
      const cost = sum(operation.selectionSet, new Set(), rows);
      if (cost <= options.maxQueryRows) return;
      setResultAndStopExecution({
        errors: [
          new GraphQLError(
            `This request could read ${cost} rows, more than ${options.maxQueryRows}: ask for smaller pages or fewer lists.`,
            { extensions: { code: ErrorCodes.COST_LIMIT_EXCEEDED, rows: cost, maxRows: options.maxQueryRows } },
          ),
        ],
      });
    },
  };
}
