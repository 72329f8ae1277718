// Every value a column accepts in both engines travels exactly, whichever side writes it by plain
// SQL: empty and whitespace-only text, 4-byte characters, 100 characters of them, quotes and
// backslashes, the extremes of DECIMAL(10,2) and of the instants both engines hold, to the microsecond.
// Property-based: fast-check draws the rows; both stores must end equal column by column and equal
// to what was written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql, type Kysely } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { Database } from '../../src/store/schema.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('exact_values');
let running: RunningRole;

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
const row = fc.record({
  nom: text(100),
  prenom: text(100),
  emailTail: text(60),
  poste: text(100),
  salaire: fc.oneof(salaire, fc.constantFrom('99999999.99', '-99999999.99', '0.00', '-0.01')),
  department: text(100),
  dateEmbauche: instant,
});

type Row = typeof row extends fc.Arbitrary<infer T> ? T : never;

let serial = 0;

async function write(db: Kysely<Database>, side: 'mysql' | 'postgres', r: Row): Promise<string> {
  // A unique, fixed-width prefix keeps emails distinct under MySQL's PAD SPACE comparison too.
  const email = `${String(serial++).padStart(5, '0')}|${r.emailTail}`;
  const stamp = side === 'postgres' ? sql`${`${r.dateEmbauche}+00`}::timestamptz` : sql`${r.dateEmbauche}`;
  await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department, date_embauche)
            VALUES (${r.nom}, ${r.prenom}, ${email}, ${r.poste}, ${r.salaire}, ${r.department}, ${stamp})`.execute(db);
  return email;
}

describe('exact values across engines', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  it('rows written by plain SQL on either side arrive exactly as written', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.constantFrom('mysql', 'postgres') as fc.Arbitrary<'mysql' | 'postgres'>, row), { minLength: 1, maxLength: 25 }), async (rows) => {
        const written = new Map<string, Row>();
        for (const [side, r] of rows) written.set(await write(running.stores[side].db, side, r), r);
        await waitForConvergence(running.stores, 60_000);
        for (const store of ['mysql', 'postgres'] as const) {
          const byEmail = new Map((await running.stores[store].employees.dump()).map((r) => [r.email, r]));
          for (const [email, r] of written) {
            const stored = byEmail.get(email);
            assert.ok(stored, `${store} lacks ${JSON.stringify(email)}`);
            assert.deepEqual(
              { nom: stored.nom, prenom: stored.prenom, poste: stored.poste, salaire: stored.salaire, department: stored.department, dateEmbauche: stored.dateEmbauche },
              { nom: r.nom, prenom: r.prenom, poste: r.poste, salaire: r.salaire, department: r.department, dateEmbauche: `${r.dateEmbauche.replace(' ', 'T')}Z` },
              `${store}: ${JSON.stringify(email)}`,
            );
          }
        }
      }),
      { numRuns: 12 },
    );
    assert.ok((await running.stores.postgres.employees.count()) >= 12, 'rows were written');
    // Both engines hash every one of these values the same way: no chunk of the content check differs.
    const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0, chunkRows: 4 });
    assert.equal(report.divergent, 0);
    assert.equal(report.chunksDiffering, 0, 'the engines\' checksums of equal content are equal');
    assert.ok(report.chunks > 1);
  });
});
