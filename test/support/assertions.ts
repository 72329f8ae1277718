// Shared assertions of the integration and integrity suites.
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import type { Stores } from '../../src/store/create-stores.ts';
import type { EmployeeFields, EmployeeRow, StoreName } from '../../src/store/types.ts';
import { waitFor } from './test-env.ts';

const comparable = (row: EmployeeRow) => JSON.stringify({ ...row, version: row.version.toString() });

/** Both tables hold exactly the same rows, column by column (ids, values, versions, timestamps). */
export async function assertStoresEqual(stores: Stores): Promise<void> {
  const [mysql, postgres] = await Promise.all([stores.mysql.employees.dump(), stores.postgres.employees.dump()]);
  assert.equal(postgres.length, mysql.length, 'row counts differ');
  assert.deepEqual(postgres.map(comparable), mysql.map(comparable));
}

/** Polls until both stores hold the same rows (and returns the row count), or fails with the difference. */
export async function waitForConvergence(stores: Stores, timeoutMs = 60_000): Promise<number> {
  let last = '';
  try {
    return await waitFor(
      'both stores to converge',
      async () => {
        const [mysql, postgres] = await Promise.all([stores.mysql.employees.dump(), stores.postgres.employees.dump()]);
        const a = mysql.map(comparable);
        const b = postgres.map(comparable);
        const firstDifference = a.findIndex((value, i) => value !== b[i]);
        last = `mysql ${a.length} rows, postgres ${b.length} rows${firstDifference < 0 ? '' : `; first difference: mysql ${a[firstDifference]} postgres ${b[firstDifference]}`}`;
        return a.length === b.length && a.every((value, i) => value === b[i]) ? a.length || -1 : false;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (${last})`);
  }
}

/** The apply log of the fault and integrity suites: every row a sink writes, by (id, version) (test/support/fault-apply-log.ts). */
export const applyLogTable = 'test_apply_log';

const employeeFieldNames = ['nom', 'prenom', 'email', 'poste', 'salaire', 'department'] as const;

/**
 * What a store must hold for one row a test wrote: `accepted` lists every state the row may be in — its
 * fields, or null for absent. One state when the last write was acknowledged; two when it was not (the
 * write may or may not have committed); more for a row both sides changed. `id` is null when the insert
 * was never acknowledged (the row is then looked up by `email`).
 */
export interface ExpectedRow {
  id: number | null;
  email: string;
  accepted: (EmployeeFields | null)[];
}

export interface LostWrite {
  store: StoreName;
  id: number | null;
  email: string;
  found: EmployeeFields | null;
  accepted: (EmployeeFields | null)[];
}

const fieldsOf = (row: EmployeeFields): EmployeeFields =>
  Object.fromEntries(employeeFieldNames.map((name) => [name, row[name]])) as unknown as EmployeeFields;
const sameFields = (a: EmployeeFields | null, b: EmployeeFields | null) =>
  a === null || b === null ? a === b : employeeFieldNames.every((name) => a[name] === b[name]);

/**
 * Compares both stores with what was written: the rows whose state is none of the accepted ones
 * (`lost`), and the rows no write explains (`unexpected`: a resurrected or invented row).
 */
export async function findLostWrites(
  stores: Stores,
  expected: readonly ExpectedRow[],
): Promise<{ compared: number; lost: LostWrite[]; unexpected: { store: StoreName; id: number; email: string }[] }> {
  const lost: LostWrite[] = [];
  const unexpected: { store: StoreName; id: number; email: string }[] = [];
  let compared = 0;
  for (const store of [stores.mysql, stores.postgres]) {
    const rows = await store.employees.dump();
    const byId = new Map(rows.map((row) => [row.id, row]));
    const byEmail = new Map(rows.map((row) => [row.email, row]));
    const explained = new Set<number>();
    for (const want of expected) {
      const row = want.id !== null ? byId.get(want.id) : byEmail.get(want.email);
      if (row) explained.add(row.id);
      const found = row ? fieldsOf(row) : null;
      compared++;
      if (!want.accepted.some((state) => sameFields(state, found))) {
        lost.push({ store: store.name, id: want.id, email: want.email, found, accepted: want.accepted });
      }
    }
    for (const row of rows) if (!explained.has(row.id)) unexpected.push({ store: store.name, id: row.id, email: row.email });
  }
  return { compared, lost, unexpected };
}

/** Every acknowledged write is in both stores with its values, deleted rows are absent, and no row is unexplained. */
export async function assertNoLoss(stores: Stores, expected: readonly ExpectedRow[]): Promise<void> {
  const { lost, unexpected } = await findLostWrites(stores, expected);
  assert.deepEqual(lost.slice(0, 5), [], `${lost.length} acknowledged writes missing or different (first 5 shown)`);
  assert.deepEqual(unexpected.slice(0, 5), [], `${unexpected.length} rows that no write explains (first 5 shown)`);
}

/** (id, version) pairs a sink wrote more than once into a store, from the apply log. */
export async function findDoubleApplies(stores: Stores): Promise<{ store: StoreName; id: number; version: string; times: number }[]> {
  const found: { store: StoreName; id: number; version: string; times: number }[] = [];
  for (const store of [stores.mysql, stores.postgres]) {
    const { rows } = await sql<{ id: number; version: string | number; times: string | number }>`
      SELECT id, version, COUNT(*) AS times FROM ${sql.table(applyLogTable)} GROUP BY id, version HAVING COUNT(*) > 1
      ORDER BY id, version`.execute(store.db);
    found.push(...rows.map((r) => ({ store: store.name, id: Number(r.id), version: String(r.version), times: Number(r.times) })));
  }
  return found;
}

/** No change applied twice: no (id, version) twice in either store's apply log. */
export async function assertNoDoubleApply(stores: Stores): Promise<void> {
  const twice = await findDoubleApplies(stores);
  assert.deepEqual(twice.slice(0, 5), [], `${twice.length} (id, version) pairs applied more than once (first 5 shown)`);
}
