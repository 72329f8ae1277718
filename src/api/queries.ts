// Queries: answered from PostgreSQL, the read model, so they show what the pipeline has applied.
import { requireRole } from './authentication.ts';
import { builder } from './builder.ts';
import { EmployeFilter, EmployeOrder, toStoreFilter, usesSalary } from './employee-filter.ts';
import { badUserInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';

export const maxPageSize = 1000;

builder.queryType({
  fields: (t) => ({
    employes: t.field({
      type: [EmployeType],
      description: `Employees ordered by id (or \`orderBy\`). Without \`limit\`, all of them; \`limit\` is at most ${maxPageSize}.`,
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
        const filter = toStoreFilter(args.filter);
        const orderBy = args.orderBy ?? undefined;
        if (usesSalary(filter, orderBy)) requireRole(ctx.principal, 'reader', 'Filtering or sorting by salaire');
        return ctx.app.stores.postgres.employees.list({
          ...(filter ? { filter } : {}),
          ...(orderBy ? { orderBy } : {}),
          ...(args.department != null ? { department: args.department } : {}),
          ...(args.limit != null ? { limit: args.limit } : {}),
          ...(args.offset != null ? { offset: args.offset } : {}),
        });
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
      resolve: (_root, args, ctx) => ctx.app.stores.postgres.employees.list({ department: args.department }),
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
