// Shared assertions of the integration and integrity suites.
import assert from 'node:assert/strict';
import type { Stores } from '../../src/store/create-stores.ts';
import type { EmployeeRow } from '../../src/store/types.ts';
import { waitFor } from './test-env.ts';

const comparable = (row: EmployeeRow) => JSON.stringify({ ...row, version: row.version.toString() });

/** Both tables hold exactly the same rows, column by column (ids, values, versions, timestamps). */
export async function assertStoresEqual(stores: Stores): Promise<void> {
  const [mysql, postgres] = await Promise.all([stores.mysql.dumpEmployees(), stores.postgres.dumpEmployees()]);
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
        const [mysql, postgres] = await Promise.all([stores.mysql.dumpEmployees(), stores.postgres.dumpEmployees()]);
        const a = mysql.map(comparable);
        const b = postgres.map(comparable);
        last = `mysql ${a.length} rows, postgres ${b.length} rows`;
        return a.length === b.length && a.every((value, i) => value === b[i]) ? a.length || -1 : false;
      },
      timeoutMs,
    );
  } catch (error) {
    throw new Error(`${(error as Error).message} (${last})`);
  }
}
