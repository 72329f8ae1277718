// employesConnection: Relay-style pages of employees read from PostgreSQL, with keyset pagination. The
// cursor is opaque to clients (base64url JSON of the order, the sort value and the id of the last row),
// so a page never skips or repeats rows when rows are inserted or deleted between requests.
import type { EmployeeFilter, EmployeeKeyset, EmployeeOrder, EmployeePage } from '../store/ports.ts';
import type { EmployeeView } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import { builder } from './builder.ts';
import { EmployeFilter, EmployeOrder, toStoreFilter, usesSalary } from './employee-filter.ts';
import { badUserInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';

export const maxConnectionPageSize = 100;
export const defaultConnectionPageSize = 20;

interface CursorContent {
  o: EmployeeOrder;
  id: number;
  v?: string;
}

interface ConnectionResult {
  page: EmployeePage;
  filter: EmployeeFilter | undefined;
  orderBy: EmployeeOrder;
  hasPreviousPage: boolean;
}

function sortValue(row: EmployeeView, orderBy: EmployeeOrder): string | undefined {
  if (orderBy === 'SALAIRE_ASC' || orderBy === 'SALAIRE_DESC') return row.salaire;
  if (orderBy === 'NOM_ASC') return row.nom;
  return undefined;
}

export function encodeCursor(row: EmployeeView, orderBy: EmployeeOrder): string {
  const value = sortValue(row, orderBy);
  const content: CursorContent = { o: orderBy, id: row.id, ...(value !== undefined ? { v: value } : {}) };
  return Buffer.from(JSON.stringify(content)).toString('base64url');
}

export function decodeCursor(cursor: string, orderBy: EmployeeOrder): EmployeeKeyset {
  let content: Partial<CursorContent> | null = null;
  try {
    content = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as Partial<CursorContent>;
  } catch {
    // reported below
  }
  if (!content || typeof content !== 'object' || !Number.isInteger(content.id)) {
    throw badUserInput('after', 'after is not a cursor of employesConnection.');
  }
  if (content.o !== orderBy) {
    throw badUserInput('after', `after is a cursor of the order ${String(content.o)}, not ${orderBy}.`);
  }
  const needsValue = orderBy !== 'ID_ASC' && orderBy !== 'ID_DESC';
  if (needsValue && typeof content.v !== 'string') throw badUserInput('after', 'after is not a cursor of employesConnection.');
  return { id: content.id!, ...(needsValue ? { value: content.v! } : {}) };
}

const PageInfo = builder.objectRef<ConnectionResult>('PageInfo').implement({
  description: 'Relay page information (forward pagination: first/after).',
  fields: (t) => ({
    hasNextPage: t.boolean({ resolve: (result) => result.page.hasNextPage }),
    hasPreviousPage: t.boolean({
      description: 'True when the page was asked with `after` (rows came before it).',
      resolve: (result) => result.hasPreviousPage,
    }),
    startCursor: t.string({
      nullable: true,
      resolve: (result) => {
        const first = result.page.rows[0];
        return first ? encodeCursor(first, result.orderBy) : null;
      },
    }),
    endCursor: t.string({
      nullable: true,
      resolve: (result) => {
        const last = result.page.rows.at(-1);
        return last ? encodeCursor(last, result.orderBy) : null;
      },
    }),
  }),
});

const EmployeEdge = builder
  .objectRef<{ row: EmployeeView; orderBy: EmployeeOrder }>('EmployeEdge')
  .implement({
    fields: (t) => ({
      cursor: t.string({ resolve: (edge) => encodeCursor(edge.row, edge.orderBy) }),
      node: t.field({ type: EmployeType, resolve: (edge) => edge.row }),
    }),
  });

const EmployeConnection = builder.objectRef<ConnectionResult>('EmployeConnection').implement({
  description: 'A page of employees (Relay connection).',
  fields: (t) => ({
    edges: t.field({
      type: [EmployeEdge],
      resolve: (result) => result.page.rows.map((row) => ({ row, orderBy: result.orderBy })),
    }),
    pageInfo: t.field({ type: PageInfo, resolve: (result) => result }),
    totalCount: t.int({
      description: 'Employees matching the filter, all pages together.',
      resolve: (result, _args, ctx) => ctx.app.stores.postgres.employees.countMatching(result.filter),
    }),
  }),
});

builder.queryFields((t) => ({
  employesConnection: t.field({
    type: EmployeConnection,
    description: `Employees page by page from PostgreSQL. \`first\` is 1–${maxConnectionPageSize} (default ${defaultConnectionPageSize}); \`after\` is the endCursor of the previous page.`,
    args: {
      first: t.arg.int({ required: false }),
      after: t.arg.string({ required: false }),
      filter: t.arg({ type: EmployeFilter, required: false }),
      orderBy: t.arg({ type: EmployeOrder, required: false }),
    },
    resolve: async (_root, args, ctx) => {
      const first = args.first ?? defaultConnectionPageSize;
      if (first < 1 || first > maxConnectionPageSize) {
        throw badUserInput('first', `first must be between 1 and ${maxConnectionPageSize}.`);
      }
      const orderBy = args.orderBy ?? 'ID_ASC';
      const filter = toStoreFilter(args.filter);
      if (usesSalary(filter, orderBy)) requireRole(ctx.principal, 'reader', 'Filtering or sorting by salaire');
      const after = args.after != null ? decodeCursor(args.after, orderBy) : undefined;
      const page = await ctx.app.stores.postgres.employees.page({
        first,
        orderBy,
        ...(filter ? { filter } : {}),
        ...(after ? { after } : {}),
      });
      return { page, filter, orderBy, hasPreviousPage: after !== undefined };
    },
  }),
}));
