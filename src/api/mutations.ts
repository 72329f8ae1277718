// Mutations: writes go to MySQL (the write model) in one transaction; its triggers capture the change
// and the relay carries it to PostgreSQL. A mutation answers with the row as MySQL committed it.
import { GraphQLError } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import { builder } from './builder.ts';
import { EmployeInput, validateEmployeInput } from './employee-input.ts';
import { EmployeType } from './employee-type.ts';

/** MySQL/MariaDB refuse a second row with the same unique key (here: email) with ER_DUP_ENTRY, errno 1062. */
function isDuplicateKey(error: unknown): boolean {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; depth++) {
    const { code, errno } = current as { code?: unknown; errno?: unknown };
    if (code === 'ER_DUP_ENTRY' || errno === 1062) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

async function translateDuplicateEmail<T>(email: string, write: () => Promise<T>): Promise<T> {
  try {
    return await write();
  } catch (error) {
    if (!isDuplicateKey(error)) throw error;
    throw new GraphQLError(`An employee with the email ${email} already exists.`, {
      extensions: { code: ErrorCodes.CONFLICT, field: 'email' },
    });
  }
}

builder.mutationType({
  fields: (t) => ({
    createEmploye: t.field({
      type: EmployeType,
      args: { input: t.arg({ type: EmployeInput, required: true }) },
      resolve: (_root, args, ctx) => {
        const fields = validateEmployeInput(args.input);
        return translateDuplicateEmail(fields.email, () => ctx.app.stores.mysql.insertEmployee(fields));
      },
    }),
    updateEmploye: t.field({
      type: EmployeType,
      nullable: true,
      description: 'Null when no employee has this id.',
      args: { id: t.arg.int({ required: true }), input: t.arg({ type: EmployeInput, required: true }) },
      resolve: (_root, args, ctx) => {
        const fields = validateEmployeInput(args.input);
        return translateDuplicateEmail(fields.email, () =>
          ctx.app.stores.mysql.updateEmployee(args.id, fields),
        );
      },
    }),
    deleteEmploye: t.boolean({
      description: 'False when no employee has this id.',
      args: { id: t.arg.int({ required: true }) },
      resolve: (_root, args, ctx) => ctx.app.stores.mysql.deleteEmployee(args.id),
    }),
    syncEmployes: t.string({
      description: 'Full resync: re-publishes every MySQL row to Kafka; PostgreSQL converges from them.',
      resolve: async (_root, _args, ctx) => {
        const count = await ctx.app.resync();
        return `Full resync queued: ${count} employees re-published to Kafka.`;
      },
    }),
    healthCheck: t.string({
      description: 'One line per dependency: "mysql: up", "postgres: down (reason)", "kafka: up".',
      resolve: async (_root, _args, ctx) => {
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
