// Every value a column accepts in both engines travels exactly, whichever side writes it — by plain
// SQL from a session in any time zone, or through the API: empty and whitespace-only text, leading and
// trailing spaces, 4-byte characters and combining marks, 100 characters of them, quotes and
// backslashes, emails that differ only by case or by Unicode normalisation, the extremes of
// DECIMAL(10,2) and of the instants both engines hold, to the microsecond. Property-based: fast-check
// draws the rows and the writers' sessions; both stores must end equal column by column, equal to what
// was written (instants as the true UTC instant), served so by the API, and equal under the content
// checksums of both engines. The named tests below are counterexamples fast-check shrank to.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import type { RunningRole } from '../../src/roles/roles.ts';
import type { Database } from '../../src/store/schema.ts';
import { startApi, type RunningApi } from '../api/api-client.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, testConfig } from '../support/test-env.ts';

const config = testConfig('exact_values');
let api: RunningApi;
let running: RunningRole;
const numRuns = Number(process.env.EXACT_VALUES_RUNS ?? 12);

// Code points from the awkward corners: ASCII with quotes and backslashes, whitespace, accents and
// combining marks, other scripts, 4-byte emoji, the last code points of the BMP and of Unicode.
const codePoint = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.constantFrom(0x09, 0x0a, 0x0d, 0x20, 0xa0, 0x2028, 0x3000),
  fc.integer({ min: 0xc0, max: 0x24f }),
  fc.integer({ min: 0x300, max: 0x36f }),
  fc.integer({ min: 0x4e00, max: 0x4eff }),
  fc.integer({ min: 0x1f300, max: 0x1faff }),
  fc.constantFrom(0xfffd, 0xffff, 0x10ffff),
);
const text = (max: number) =>
  fc.oneof(
    fc.array(codePoint, { maxLength: max, size: 'max' }).map((points) => String.fromCodePoint(...points)),
    fc.constantFrom('', ' ', '   ', '\t', '🦄'.repeat(max), 'é'.repeat(max), "'\\\"%_".padEnd(max, ' ')),
  );
const salaire = fc.bigInt({ min: -9_999_999_999n, max: 9_999_999_999n }).map((cents) => {
  const sign = cents < 0n ? '-' : '';
  const abs = cents < 0n ? -cents : cents;
  return `${sign}${abs / 100n}.${String(abs % 100n).padStart(2, '0')}`;
});
const firstInstant = Date.UTC(1000, 0, 1);
const lastInstant = Date.UTC(9999, 11, 31, 23, 59, 59, 999);
const instant = fc
  .tuple(fc.integer({ min: firstInstant, max: lastInstant }), fc.integer({ min: 0, max: 999 }), fc.constantFrom('min', 'max', 'any'))
  .map(([ms, micros, edge]) => {
    if (edge === 'min') return '1000-01-01 00:00:00.000000';
    if (edge === 'max') return '9999-12-31 23:59:59.999999';
    return `${new Date(ms).toISOString().slice(0, 23).replace('T', ' ')}${String(micros).padStart(3, '0')}`;
  });
// Writers' sessions: UTC, and offsets from -12:00 to +13:00 (MariaDB's range; half and quarter hours included).
const zones = ['+00:00', '+05:30', '-08:00', '+13:00', '-12:00', '+05:45', '-03:30'] as const;
const row = fc.record({
  nom: text(100),
  prenom: text(100),
  // No trailing space: a unique value ending with one is refused at the source (see below).
  emailTail: text(58).map((t) => t.replace(/ +$/, '')),
  twin: fc.constantFrom('none', 'case', 'normalisation'),
  zone: fc.constantFrom(...zones),
  poste: text(100),
  salaire: fc.oneof(salaire, fc.constantFrom('99999999.99', '-99999999.99', '0.00', '-0.01')),
  department: text(100),
  dateEmbauche: instant,
});

type Row = typeof row extends fc.Arbitrary<infer T> ? T : never;

let serial = 0;

const offsetMinutes = (zone: string) => (zone.startsWith('-') ? -1 : 1) * (Number(zone.slice(1, 3)) * 60 + Number(zone.slice(4, 6)));

/** The wall clock of a UTC instant ('YYYY-MM-DD HH:MM:SS.ffffff') in a zone, as a writer there types it. */
function localWallClock(utc: string, zone: string): string {
  const shifted = new Date(Date.parse(`${utc.slice(0, 23).replace(' ', 'T')}Z`) + offsetMinutes(zone) * 60_000);
  return `${shifted.toISOString().slice(0, 23).replace('T', ' ')}${utc.slice(23)}`;
}

/** Away from the engines' limits by a day, so that its wall clock in any zone is a value both hold too. */
const clampToMargin = (utc: string) =>
  utc < '1000-01-02' ? '1000-01-02 00:00:00.000000' : utc > '9999-12-30' ? '9999-12-30 23:59:59.999999' : utc;

/** The twin of an email: the same text in other case, or in the other Unicode normal form. */
function twinOf(email: string, twin: Row['twin']): string | null {
  if (twin === 'case') {
    const swapped = [...email].map((c) => (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase())).join('');
    return swapped === email ? `${email}X` : swapped;
  }
  if (twin === 'normalisation') {
    const other = email.normalize('NFC') === email ? email.normalize('NFD') : email.normalize('NFC');
    return other === email ? `${email}\u0301` : other;
  }
  return null;
}

interface Written {
  row: Row;
  utc: string;
}

/**
 * Writes a row by plain SQL from a session in `row.zone`: the date as that zone's wall clock, created_at
 * from the column's default (the session's now). Returns the emails written (the row's and its twin's).
 */
async function write(db: Kysely<Database>, side: 'mysql' | 'postgres', r: Row): Promise<Map<string, Written>> {
  const email = `${String(serial++).padStart(5, '0')}|${r.emailTail}`;
  const utc = r.zone === '+00:00' ? r.dateEmbauche : clampToMargin(r.dateEmbauche);
  const local = localWallClock(utc, r.zone);
  const emails = [email, twinOf(email, r.twin)].filter((e): e is string => e !== null);
  await db.connection().execute(async (session) => {
    await (side === 'mysql'
      ? sql`SET time_zone = ${r.zone}`
      : sql.raw(`SET TIME ZONE INTERVAL '${r.zone}' HOUR TO MINUTE`)
    ).execute(session);
    try {
      for (const e of emails) {
        await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department, date_embauche)
                  VALUES (${r.nom}, ${r.prenom}, ${e}, ${r.poste}, ${r.salaire}, ${r.department}, ${local})`.execute(session);
      }
    } finally {
      await (side === 'mysql' ? sql`SET time_zone = '+00:00'` : sql`SET TIME ZONE 'UTC'`).execute(session);
    }
  });
  return new Map(emails.map((e) => [e, { row: r, utc }]));
}

const iso = (utc: string) => `${utc.replace(' ', 'T')}Z`;

/** Both stores hold each written row exactly: text as written, the true UTC instant, a created_at of now. */
async function assertArrivedExactly(written: Map<string, Written>, since: number) {
  for (const store of ['mysql', 'postgres'] as const) {
    const byEmail = new Map((await running.stores[store].employees.dump()).map((r) => [r.email, r]));
    for (const [email, { row: r, utc }] of written) {
      const stored = byEmail.get(email);
      assert.ok(stored, `${store} lacks ${JSON.stringify(email)}`);
      assert.deepEqual(
        { nom: stored.nom, prenom: stored.prenom, poste: stored.poste, salaire: stored.salaire, department: stored.department, dateEmbauche: stored.dateEmbauche },
        { nom: r.nom, prenom: r.prenom, poste: r.poste, salaire: r.salaire, department: r.department, dateEmbauche: iso(utc) },
        `${store}: ${JSON.stringify(email)} written from a session at ${r.zone}`,
      );
      // The default (the writer's now) is the true instant, whatever the session's zone.
      const created = Date.parse(stored.createdAt);
      assert.ok(created >= since - 60_000 && created <= Date.now() + 60_000, `${store}: created_at ${stored.createdAt} is now, written at ${r.zone}`);
    }
  }
}

describe('exact values across engines', () => {
  before(async () => {
    await dropTestDatabases(config);
    api = await startApi(config);
    running = api.running;
  });
  after(async () => {
    await api?.running.stop();
  });

  it('rows written by plain SQL on either side, from sessions in any time zone, arrive exactly as written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('mysql', 'postgres') as fc.Arbitrary<'mysql' | 'postgres'>, row), { minLength: 1, maxLength: 25 }), async (rows) => {
        const since = Date.now();
        const written = new Map<string, Written>();
        for (const [side, r] of rows) for (const [email, w] of await write(running.stores[side].db, side, r)) written.set(email, w);
        await waitForConvergence(running.stores, 60_000);
        await assertArrivedExactly(written, since);
      }),
      { numRuns },
    );
    assert.ok((await running.stores.postgres.employees.count()) >= 12, 'rows were written');
    // Both engines hash every one of these values the same way: no chunk of the content check differs.
    const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0, chunkRows: 4 });
    assert.equal(report.divergent, 0);
    assert.equal(report.chunksDiffering, 0, 'the engines\' checksums of equal content are equal');
    assert.ok(report.chunks > 1);
  });

  it('rows written through the API arrive in both stores as the API took them, and the API serves them so', async () => {
    // What the API accepts: no control characters; it trims texts; salaire from 0, two decimals.
    const printable = fc
      .array(fc.oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0xc0, max: 0x24f }), fc.integer({ min: 0x300, max: 0x36f }), fc.integer({ min: 0x1f300, max: 0x1faff })), { minLength: 1, maxLength: 40 })
      .map((points) => String.fromCodePoint(...points))
      .filter((t) => t.trim().length > 0);
    const input = fc.record({
      nom: printable,
      prenom: printable,
      poste: printable,
      department: printable,
      local: fc.stringMatching(/^[a-zA-Z0-9._-]{1,20}$/),
      cents: fc.integer({ min: 0, max: 9_999_999_999 }),
    });
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 8 }), async (inputs) => {
        const created: { id: number; expected: Record<string, string> }[] = [];
        for (const i of inputs) {
          const email = `${serial++}.${i.local}@example.fr`;
          const salaire = (i.cents / 100).toFixed(2);
          const response = await api.gql<{ createEmploye: { id: number } }>(
            'mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }',
            { input: { nom: i.nom, prenom: i.prenom, email, poste: i.poste, salaire: Number(salaire), department: i.department } },
          );
          assert.equal(response.errors, undefined, JSON.stringify(response.errors));
          created.push({
            id: response.data!.createEmploye.id,
            expected: { nom: i.nom.trim(), prenom: i.prenom.trim(), email, poste: i.poste.trim(), salaire, department: i.department.trim() },
          });
        }
        await waitForConvergence(running.stores, 60_000);
        for (const { id, expected } of created) {
          for (const store of ['mysql', 'postgres'] as const) {
            const stored = await running.stores[store].employees.find(id);
            assert.deepEqual(
              stored && { nom: stored.nom, prenom: stored.prenom, email: stored.email, poste: stored.poste, salaire: stored.salaire, department: stored.department },
              expected,
              `${store}: employee ${id}`,
            );
          }
          const served = await api.gql<{ employeParId: Record<string, string> }>(
            `{ employeParId(id: ${id}) { nom prenom email poste salaireExact department } }`,
          );
          assert.equal(served.errors, undefined, JSON.stringify(served.errors));
          const { salaireExact, ...rest } = served.data!.employeParId;
          assert.deepEqual({ ...rest, salaire: salaireExact }, expected, `the API serves employee ${id}`);
        }
      }),
      { numRuns: Math.max(3, Math.round(numRuns / 3)) },
    );
    await assertStoresEqual(running.stores);
  });

  describe('counterexamples, kept as named cases', () => {
    const base = { nom: 'N', prenom: 'P', poste: 'Dev', salaire: '1.00', department: 'D', twin: 'none' as const };

    it('a DATETIME written from a MySQL session at +05:30 arrives in PostgreSQL as the same instant, created_at too', async () => {
      const since = Date.now();
      const written = await write(running.stores.mysql.db, 'mysql', { ...base, emailTail: 'tz.mysql', zone: '+05:30', dateEmbauche: '2024-06-01 12:00:00.123456' });
      await waitForConvergence(running.stores);
      await assertArrivedExactly(written, since);
      const [email] = [...written.keys()];
      const inMysql = (await running.stores.mysql.employees.dump()).find((r) => r.email === email)!;
      assert.equal(inMysql.dateEmbauche, '2024-06-01T12:00:00.123456Z', 'MySQL keeps UTC: 17:30 at +05:30 is 12:00 UTC');
    });

    it('a timestamptz written from a PostgreSQL session at -08:00 near the first instant both engines hold', async () => {
      const since = Date.now();
      const written = await write(running.stores.postgres.db, 'postgres', { ...base, emailTail: 'tz.pg', zone: '-08:00', dateEmbauche: '1000-01-02 00:00:00.000001' });
      await waitForConvergence(running.stores);
      await assertArrivedExactly(written, since);
    });

    it('a date before 1970 written from a MySQL session at -03:30 (outside CONVERT_TZ\'s range) is shifted too', async () => {
      const since = Date.now();
      const written = await write(running.stores.mysql.db, 'mysql', { ...base, emailTail: 'tz.1969', zone: '-03:30', dateEmbauche: '1969-07-20 20:17:40.000000' });
      await waitForConvergence(running.stores);
      await assertArrivedExactly(written, since);
    });

    it('emails that differ only by case, or by normal form, are two employees on both engines', async () => {
      const since = Date.now();
      const written = new Map([
        ...(await write(running.stores.mysql.db, 'mysql', { ...base, emailTail: 'Émile@Exemple.fr', twin: 'case', zone: '+00:00', dateEmbauche: '2020-01-01 00:00:00.000000' })),
        ...(await write(running.stores.postgres.db, 'postgres', { ...base, emailTail: 'élodie@exemple.fr', twin: 'normalisation', zone: '+00:00', dateEmbauche: '2020-01-01 00:00:00.000000' })),
      ]);
      assert.equal(written.size, 4);
      await waitForConvergence(running.stores);
      await assertArrivedExactly(written, since);
    });

    it('a unique email ending with a space is refused where it is written, on both engines, and nothing is written', async () => {
      for (const side of ['mysql', 'postgres'] as const) {
        const db = running.stores[side].db;
        const backlog = await running.stores[side].outbox.backlog();
        await assert.rejects(
          sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('N', 'P', ${`space.${side}@example.fr `}, 'Dev', 1, 'D')`.execute(db),
          /EMPSYNC_VALUE_NOT_PORTABLE: employes\.email is unique and ends with a space/,
        );
        const [existing] = await running.stores[side].employees.dump();
        await assert.rejects(
          sql`UPDATE employes SET email = ${`${existing!.email} `} WHERE id = ${existing!.id}`.execute(db),
          /EMPSYNC_VALUE_NOT_PORTABLE/,
        );
        assert.equal((await running.stores[side].employees.dump()).filter((r) => r.email.endsWith(' ')).length, 0);
        assert.equal(await running.stores[side].outbox.backlog(), backlog, 'nothing captured');
      }
    });
  });
});
