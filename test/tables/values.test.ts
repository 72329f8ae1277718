// The values both engines hold: the rules as data (unportableValue), and the CHECK constraints both
// stores derive from them, which refuse — where the value is written — what the other engine cannot store.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { carryChange } from '../../src/relay/captured-change.ts';
import { employesTable } from '../../src/tables/employes.ts';
import { declaredSchema } from '../../src/tables/table-schema.ts';
import { canonicalInstant, canonicalValue, parseJsonExact, unportableValue } from '../../src/tables/values.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const text = { kind: 'text', length: null } as const;
const money = { kind: 'decimal', precision: 10, scale: 2 } as const;
const instant = { kind: 'timestamp' } as const;

describe('unportableValue', () => {
  it('accepts what both engines hold', () => {
    for (const value of ['', ' ', '\t\n', 'é', '🦄'.repeat(100), "O'Brien \\ %_"]) assert.equal(unportableValue(text, value, false), null);
    for (const decimal of ['0', '-0.50', '99999999.99', '-99999999.99', '12.5']) assert.equal(unportableValue(money, decimal, false), null);
    for (const value of ['1000-01-01T00:00:00.000000Z', '9999-12-31T23:59:59.999999Z', '2024-02-29T12:00:00.000001Z']) {
      assert.equal(unportableValue(instant, value, false), null);
    }
    assert.equal(unportableValue({ kind: 'bigint' }, '-9223372036854775808', false), null);
    assert.equal(unportableValue({ kind: 'boolean' }, 'false', false), null);
    assert.equal(unportableValue({ kind: 'date' }, '2024-02-29', false), null);
    assert.equal(unportableValue(text, null, true), null);
  });
  it('names what one engine cannot hold', () => {
    assert.match(unportableValue(text, 'a\u0000b', false) ?? '', /U\+0000/);
    assert.match(unportableValue({ kind: 'text', length: 3 }, 'abcd', false) ?? '', /longer than 3/);
    assert.match(unportableValue(text, null, false) ?? '', /NOT NULL/);
    for (const decimal of ['NaN', 'Infinity', '123456789.00', '1.001']) assert.ok(unportableValue(money, decimal, false), decimal);
    for (const value of ['infinity', '0000-00-00T00:00:00.000000Z', '0999-12-31T23:59:59.999999Z', '10000-01-01 00:00:00+00', '0044-03-15 00:00:00+00 BC', '2023-02-29T00:00:00.000000Z']) {
      assert.ok(unportableValue(instant, value, false), value);
    }
    assert.ok(unportableValue({ kind: 'smallint' }, '32768', false));
    assert.ok(unportableValue({ kind: 'date' }, '2023-02-29', false));
  });
  it('never judges the values of a delete: only its id travels', () => {
    const schema = declaredSchema(employesTable('t'));
    const captured = {
      seq: 1n, eventId: 'e', table: 'employes', id: 1, version: 2n, baseVersion: 1n, origin: 'mysql' as const,
      capturedAt: '2026-01-01T00:00:00.000000Z', raw: { date_embauche: '0000-00-00 00:00:00' },
    };
    assert.equal(carryChange({ ...captured, op: 'd' }, schema).unportable, null);
    assert.match(carryChange({ ...captured, op: 'u' }, schema).unportable ?? '', /date_embauche/);
  });
});

describe('canonical values', () => {
  it('gives one text per instant, whatever the zone or the engine wrote', () => {
    for (const written of ['2024-01-02 03:04:05.12', '2024-01-02T03:04:05.120000Z', '2024-01-02T04:04:05.12+01:00', '2024-01-01T22:04:05.12-05:00']) {
      assert.equal(canonicalInstant(written), '2024-01-02T03:04:05.120000Z', written);
    }
  });
  it("reads PostgreSQL's text of a millisecond instant, as long as MySQL's DATETIME(6) text (a counterexample)", () => {
    assert.equal(canonicalInstant('2024-01-02 03:04:05.123+00'), '2024-01-02T03:04:05.123000Z');
    assert.equal(canonicalInstant('2024-01-02 03:04:05.123456'), '2024-01-02T03:04:05.123456Z');
  });
  it('keeps numbers exact through JSON and writes booleans and doubles one way', () => {
    const parsed = parseJsonExact('{"big": 9223372036854775807, "money": 1234.50, "d": 1e300}') as Record<string, unknown>;
    assert.equal(canonicalValue({ kind: 'bigint' }, parsed.big), '9223372036854775807');
    assert.equal(canonicalValue(money, parsed.money), '1234.50');
    assert.equal(canonicalValue({ kind: 'double' }, parsed.d), canonicalValue({ kind: 'double' }, '1e+300'));
    for (const yes of [true, 1, '1', 't', 'true']) assert.equal(canonicalValue({ kind: 'boolean' }, yes), 'true');
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
      assert.equal(Number((await sql<{ n: number }>`SELECT COUNT(*) AS n FROM sync_outbox`.execute(db)).rows[0]!.n), 0);
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
