// The values both engines hold: the rules as data (unportableValue), and the CHECK constraints both
// stores derive from them, which refuse — where the value is written — what the other engine cannot store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { unportableRow, unportableValue } from '../../src/store/portable-values.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

describe('unportableValue', () => {
  it('accepts what both engines hold', () => {
    for (const text of ['', ' ', '\t\n', 'é', '🦄'.repeat(100), "O'Brien \\ %_"]) assert.equal(unportableValue('text', text), null);
    for (const decimal of ['0', '-0.50', '99999999.99', '-99999999.99', '12.5']) assert.equal(unportableValue('decimal', decimal), null);
    for (const instant of ['1000-01-01T00:00:00.000000Z', '9999-12-31T23:59:59.999999Z', '2024-02-29T12:00:00.000001Z']) {
      assert.equal(unportableValue('timestamp', instant), null);
    }
  });
  it('names what one engine cannot hold', () => {
    assert.match(unportableValue('text', 'a\u0000b') ?? '', /U\+0000/);
    for (const decimal of ['NaN', 'Infinity', '123456789.00', '1.001']) assert.ok(unportableValue('decimal', decimal), decimal);
    for (const instant of ['infinity', '0000-00-00T00:00:00.000000Z', '0999-12-31T23:59:59.999999Z', '10000-01-01 00:00:00+00', '0044-03-15 00:00:00+00 BC', '2023-02-29T00:00:00.000000Z']) {
      assert.ok(unportableValue('timestamp', instant), instant);
    }
  });
  it('never judges the values of a delete: only its id travels', () => {
    assert.equal(unportableRow('d', { id: 1, version: 1n, origin: 'mysql', dateEmbauche: 'infinity' }), null);
  });
});

const config = testConfig('portable_values');
let running: RunningRole;

describe('CHECK constraints refuse at the source what the other engine cannot store', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('migrate', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  const insert = (store: 'mysql' | 'postgres', column: string, value: string) => {
    const values: Record<string, string> = {
      nom: `'N'`, prenom: `'P'`, email: `'${column}-${Math.random()}@x'`, poste: `'Dev'`, salaire: '1', department: `'IT'`,
      [column]: value,
    };
    return sql`INSERT INTO employes (${sql.raw(Object.keys(values).join(', '))})
               VALUES (${sql.raw(Object.values(values).join(', '))})`.execute(running.stores[store].db);
  };

  const refusals: { store: 'mysql' | 'postgres'; column: string; value: string }[] = [
    { store: 'mysql', column: 'nom', value: `CONCAT('a', CHAR(0 USING utf8mb4), 'b')` },
    { store: 'mysql', column: 'date_embauche', value: `'0000-00-00 00:00:00'` },
    { store: 'mysql', column: 'created_at', value: `'0999-12-31 23:59:59'` },
    { store: 'postgres', column: 'date_embauche', value: `'infinity'` },
    { store: 'postgres', column: 'date_embauche', value: `'10000-01-01 00:00:00+00'` },
    { store: 'postgres', column: 'created_at', value: `'0044-03-15 00:00:00+00 BC'` },
    { store: 'postgres', column: 'salaire', value: `'NaN'` },
  ];

  for (const { store, column, value } of refusals) {
    it(`${store} refuses ${column} = ${value}, naming the constraint, and captures nothing`, async () => {
      await assert.rejects(insert(store, column, value), new RegExp(`employes_${column}_portable`));
      const db = running.stores[store].db;
      assert.equal(Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM employes_outbox`.execute(db)).rows[0]!.n), 0);
    });
  }

  it('both accept the edges of what both hold', async () => {
    for (const store of ['mysql', 'postgres'] as const) {
      const db = running.stores[store].db;
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department, date_embauche, created_at)
                VALUES ('', ' ', ${`edge-${store}@x`}, ${'🦄'.repeat(100)}, -99999999.99, 'IT',
                        '1000-01-01 00:00:00', '9999-12-31 23:59:59.999999')`.execute(db);
    }
  });
});
