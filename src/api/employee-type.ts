// EmployeType: an employee as the read model (PostgreSQL) holds it. The published design's fields come
// first, unchanged; `salaireExact` and `syncState` are additions (the exact decimal, the row versions in
// both stores). The salary needs the role reader when authentication is on.
import type { EmployeeView } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import { builder } from './builder.ts';
import './date-time-scalar.ts';

interface SyncState {
  id: number;
  version: bigint;
  origin: string;
}

const SyncStateType = builder.objectRef<SyncState>('SyncState').implement({
  description: 'Where and when the last change of the row was made (for diagnosing sync).',
  fields: (t) => ({
    version: t.string({
      description: 'Hybrid logical clock in microseconds (a 64-bit integer, as a string).',
      resolve: (state) => state.version.toString(),
    }),
    origin: t.exposeString('origin', {
      description: 'The store where the change was made: mysql or postgres.',
    }),
    mysqlVersion: t.string({
      nullable: true,
      description: 'The version MySQL holds now (null when the row is not there).',
      resolve: async (state, _args, ctx) => (await ctx.mysqlEmployeeById.load(state.id))?.version.toString() ?? null,
    }),
    postgresVersion: t.string({
      nullable: true,
      description: 'The version PostgreSQL holds now (null when the row is not there).',
      resolve: async (state, _args, ctx) => (await ctx.employeeById.load(state.id))?.version.toString() ?? null,
    }),
    inSync: t.boolean({
      description: 'True when both stores hold the same version (or neither holds the row).',
      resolve: async (state, _args, ctx) => {
        const [inMysql, inPostgres] = await Promise.all([
          ctx.mysqlEmployeeById.load(state.id),
          ctx.employeeById.load(state.id),
        ]);
        return inMysql?.version === inPostgres?.version;
      },
    }),
  }),
});

export const EmployeType = builder.objectRef<EmployeeView>('EmployeType').implement({
  description: 'An employee, read from PostgreSQL.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    nom: t.exposeString('nom'),
    prenom: t.exposeString('prenom'),
    email: t.exposeString('email'),
    poste: t.exposeString('poste'),
    salaire: t.float({
      description: 'Needs the role reader when authentication is on.',
      resolve: (row, _args, ctx) => {
        requireRole(ctx.principal, 'reader', 'salaire');
        return Number(row.salaire);
      },
    }),
    salaireExact: t.string({
      description: 'The salary as the exact DECIMAL(10,2) string ("1234.50"). Needs the role reader.',
      resolve: (row, _args, ctx) => {
        requireRole(ctx.principal, 'reader', 'salaireExact');
        return row.salaire;
      },
    }),
    department: t.exposeString('department'),
    dateEmbauche: t.field({ type: 'DateTime', resolve: (row) => row.dateEmbauche }),
    syncState: t.field({
      type: SyncStateType,
      resolve: (row) => ({ id: row.id, version: row.version, origin: row.origin }),
    }),
  }),
});
