// EmployeType: an employee as the read model (PostgreSQL) holds it. The published design's fields come
// first, unchanged; `salaireExact` and `syncState` are additions (the exact decimal, the row version).
import type { EmployeeRow } from '../store/types.ts';
import { builder } from './builder.ts';
import './date-time-scalar.ts';

interface SyncState {
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
  }),
});

export const EmployeType = builder.objectRef<EmployeeRow>('EmployeType').implement({
  description: 'An employee, read from PostgreSQL.',
  fields: (t) => ({
    id: t.exposeInt('id'),
    nom: t.exposeString('nom'),
    prenom: t.exposeString('prenom'),
    email: t.exposeString('email'),
    poste: t.exposeString('poste'),
    salaire: t.float({ resolve: (row) => Number(row.salaire) }),
    salaireExact: t.string({
      description: 'The salary as the exact DECIMAL(10,2) string ("1234.50").',
      resolve: (row) => row.salaire,
    }),
    department: t.exposeString('department'),
    dateEmbauche: t.field({ type: 'DateTime', resolve: (row) => row.dateEmbauche }),
    syncState: t.field({
      type: SyncStateType,
      resolve: (row) => ({ version: row.version, origin: row.origin }),
    }),
  }),
});
