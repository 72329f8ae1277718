// Queries: answered from PostgreSQL, the read model, so they show what the pipeline has applied.
import { GraphQLError } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import type { EmployeeListQuery } from '../store/ports.ts';
import type { EmployeeView } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import type { ApiContext } from './builder.ts';
import { builder } from './builder.ts';
import { EmployeFilter, EmployeOrder, toStoreFilter, usesSalary } from './employee-filter.ts';
import { badUserInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';

export const maxPageSize = 1000;

builder.queryType({
  fields: (t) => ({
    employes: t.field({
      type: [EmployeType],
      description: `Employees ordered by id (or \`orderBy\`). Without \`limit\`, all of them up to API_MAX_ROWS (10,000 by default: more is refused with TOO_MANY_ROWS); \`limit\` is at most ${maxPageSize}; \`offset\` at most API_MAX_OFFSET.`,
      args: {
        limit: t.arg.int({ required: false }),
        offset: t.arg.int({ required: false }),
        department: t.arg.string({ required: false }),
        filter: t.arg({ type: EmployeFilter, required: false }),
        orderBy: t.arg({ type: EmployeOrder, required: false }),
      },
      resolve: (_root, args, ctx) => {
        if (args.limit != null && (args.limit < 1 || args.limit > maxPageSize)) {
          throw badUserInput('limit', `limit must be between 1 and ${maxPageSize}.`);
        }
        if (args.offset != null && args.offset < 0)
          throw badUserInput('offset', 'offset must be zero or more.');
        const { API_MAX_OFFSET } = ctx.app.config;
        if (args.offset != null && args.offset > API_MAX_OFFSET) {
          throw badUserInput('offset', `offset must be at most ${API_MAX_OFFSET}: page with employesConnection's cursors beyond it.`);
        }
        const filter = toStoreFilter(args.filter);
        const orderBy = args.orderBy ?? undefined;
        if (usesSalary(filter, orderBy)) requireRole(ctx.principal, 'reader', 'Filtering or sorting by salaire');
        const query = {
          ...(filter ? { filter } : {}),
          ...(orderBy ? { orderBy } : {}),
          ...(args.department != null ? { department: args.department } : {}),
          ...(args.offset != null ? { offset: args.offset } : {}),
        };
        return args.limit != null ? ctx.app.stores.postgres.employees.list({ ...query, limit: args.limit }) : bounded(ctx.app, query);
      },
    }),
    employeParId: t.field({
      type: EmployeType,
      nullable: true,
      args: { id: t.arg.int({ required: true }) },
      resolve: (_root, args, ctx) => ctx.employeeById.load(args.id),
    }),
    employesParDepartment: t.field({
      type: [EmployeType],
      args: { department: t.arg.string({ required: true }) },
      description: 'The employees of one department, up to API_MAX_ROWS (more is refused with TOO_MANY_ROWS).',
      resolve: (_root, args, ctx) => bounded(ctx.app, { department: args.department }),
    }),
    statsEmployes: t.string({
      description: 'First line "Total: N", then one line "department: N" per department (by name).',
      resolve: async (_root, _args, ctx) => {
        const counts = await ctx.app.stores.postgres.employees.countByDepartment();
        const total = counts.reduce((sum, { count }) => sum + count, 0);
        return [`Total: ${total}`, ...counts.map(({ department, count }) => `${department}: ${count}`)].join(
          '\n',
        );
      },
    }),
  }),
});

/**
 * A list without a page size: no request reads more than API_MAX_ROWS rows. One row more is read to know
 * whether the answer would be cut; then the request is refused (TOO_MANY_ROWS), never answered partly.
 */
async function bounded(app: ApiContext['app'], query: Omit<EmployeeListQuery, 'limit'>): Promise<EmployeeView[]> {
  const max = app.config.API_MAX_ROWS;
  const rows = await app.stores.postgres.employees.list({ ...query, limit: max + 1 });
  if (rows.length > max) {
    throw new GraphQLError(`The answer would hold more than ${max} employees: ask for pages (limit and offset, or employesConnection).`, {
      extensions: { code: ErrorCodes.TOO_MANY_ROWS, maxRows: max },
    });
  }
  return rows;
}
