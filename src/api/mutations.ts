// Mutations: writes go to MySQL (the write model) in one transaction; its triggers capture the change
// and the relay carries it to PostgreSQL. A mutation answers with the row as MySQL committed it, or —
// with `waitForSync: true` — once PostgreSQL has it too (bounded). Writes need the role writer, the
// full resync admin, healthCheck reader (when authentication is on).
import { GraphQLError } from 'graphql';
import { ErrorCodes, isEmpsyncError } from '../errors.ts';
import type { EmployeeFields, EmployeeView } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import { builder, type ApiContext } from './builder.ts';
import { EmployeInput, validateEmployeInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';
import { extraInput } from './extra-fields.ts';
import { syncWaitTimeoutMs, waitForAbsence, waitForVersion } from './wait-for-sync.ts';

const waitForSyncDescription = `When true, answer once PostgreSQL (the read model) holds this change, waiting at most ${syncWaitTimeoutMs / 1000} s; after that the answer comes anyway.`;

async function readYourWrite(ctx: ApiContext, row: EmployeeView | null, wait: boolean | null | undefined) {
  if (!wait || !row) return row;
  const synced = await waitForVersion(ctx.app.stores.postgres, row.id, row.version);
  if (!synced) ctx.app.logger.info({ requestId: ctx.requestId, id: row.id }, 'waitForSync timed out');
  // The read model's copy may be cached by this request's loader from before the write.
  ctx.employeeById.clear(row.id);
  ctx.mysqlEmployeeById.clear(row.id);
  return row;
}

/** A unique key refused the row (the store's EMPSYNC_CONFLICT): the contract's answer names the field. */
async function translateDuplicateEmail<T>(fields: EmployeeFields, ctx: ApiContext, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isEmpsyncError(error, ErrorCodes.CONFLICT)) throw error;
    const key = String(error.details.key ?? '');
    const extra = ctx.extraFields.find((f) => key.includes(f.column.name));
    if (extra && !key.includes('email')) {
      throw new GraphQLError(`Another employee already has this ${extra.field}.`, {
        extensions: { code: ErrorCodes.CONFLICT, field: extra.field },
      });
    }
    throw new GraphQLError(`An employee with the email ${fields.email} already exists.`, {
      extensions: { code: ErrorCodes.CONFLICT, field: 'email' },
    });
  }
}

/** The contract's fields and the extra columns the input sets (fields of the request's schema). */
function withExtras(fields: EmployeeFields, input: object, ctx: ApiContext): EmployeeFields {
  const extra = extraInput(input as Record<string, unknown>, ctx.extraFields);
  return extra ? { ...fields, extra } : fields;
}

builder.mutationType({
  fields: (t) => ({
    createEmploye: t.field({
      type: EmployeType,
      args: {
        input: t.arg({ type: EmployeInput, required: true }),
        waitForSync: t.arg.boolean({ required: false, description: waitForSyncDescription }),
      },
      resolve: async (_root, args, ctx) => {
        requireRole(ctx.principal, 'writer', 'createEmploye');
        const fields = withExtras(validateEmployeInput(args.input), args.input, ctx);
        const row = await translateDuplicateEmail(fields, ctx, () => ctx.app.stores.mysql.employees.insert(fields));
        return (await readYourWrite(ctx, row, args.waitForSync))!;
      },
    }),
    updateEmploye: t.field({
      type: EmployeType,
      nullable: true,
      description: 'Null when no employee has this id.',
      args: {
        id: t.arg.int({ required: true }),
        input: t.arg({ type: EmployeInput, required: true }),
        waitForSync: t.arg.boolean({ required: false, description: waitForSyncDescription }),
      },
      resolve: async (_root, args, ctx) => {
        requireRole(ctx.principal, 'writer', 'updateEmploye');
        const fields = withExtras(validateEmployeInput(args.input), args.input, ctx);
        const row = await translateDuplicateEmail(fields, ctx, () =>
          ctx.app.stores.mysql.employees.update(args.id, fields),
        );
        return readYourWrite(ctx, row, args.waitForSync);
      },
    }),
    deleteEmploye: t.boolean({
      description: 'False when no employee has this id.',
      args: {
        id: t.arg.int({ required: true }),
        waitForSync: t.arg.boolean({ required: false, description: waitForSyncDescription }),
      },
      resolve: async (_root, args, ctx) => {
        requireRole(ctx.principal, 'writer', 'deleteEmploye');
        const deleted = await ctx.app.stores.mysql.employees.delete(args.id);
        if (deleted && args.waitForSync && !(await waitForAbsence(ctx.app.stores.postgres, args.id))) {
          ctx.app.logger.info({ requestId: ctx.requestId, id: args.id }, 'waitForSync timed out');
        }
        return deleted;
      },
    }),
    syncEmployes: t.string({
      description:
        'Full resync: MySQL\'s relay reads every row and re-publishes it to Kafka (a snapshot: nothing is written to MySQL); PostgreSQL converges from them. Progress in syncStatus.snapshots.',
      resolve: async (_root, _args, ctx) => {
        requireRole(ctx.principal, 'admin', 'syncEmployes');
        const count = await ctx.app.resync();
        return `Full resync started: ${count} employees being re-published to Kafka (progress: syncStatus.snapshots).`;
      },
    }),
    healthCheck: t.string({
      description: 'One line per dependency: "mysql: up", "postgres: down (reason)", "kafka: up".',
      resolve: async (_root, _args, ctx) => {
        requireRole(ctx.principal, 'reader', 'healthCheck');
        const report = await ctx.app.readiness();
        return Object.entries(report.dependencies)
          .map(([name, state]) =>
            state.up ? `${name}: up` : `${name}: down (${state.error ?? 'no answer'})`,
          )
          .join('\n');
      },
    }),
  }),
});
