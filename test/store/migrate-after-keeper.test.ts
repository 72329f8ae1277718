// Migrations after the schema keeper: a process running while the database is rebuilt by hand (tables
// dropped) may create a synced table from its declaration — checks and all — before another process's
// migrations run there. The migrations must then keep what they find, not fail on it (seen in CI: a
// sink started on a rebuilt PostgreSQL failed with "constraint employes_salaire_portable already exists").
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { closeStores, createStores, ensureDatabases } from '../../src/store/create-stores.ts';
import { storeNames } from '../../src/store/types.ts';
import { syncedTables } from '../../src/tables/tables.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';

const config = testConfig('migrate_after_keeper');
const stores = createStores(config);
after(() => closeStores(stores));

describe('migrations after the schema keeper created a table', () => {
  for (const name of storeNames) {
    it(`${name}: every migration applies on a database where employes came from its declaration`, async () => {
      await dropTestDatabases(config);
      await ensureDatabases(config);
      const employes = syncedTables(config).find((t) => t.name === 'employes')!;
      await stores[name].schema.createTable(employes);
      const applied = await stores[name].migrate();
      assert.ok(applied.length > 0, 'the migrations ran');
      assert.deepEqual(await stores[name].pendingMigrations(), []);
    });
  }
});
