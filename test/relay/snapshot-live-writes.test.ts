// A snapshot while both stores keep changing: rows that PostgreSQL never saw are snapshotted from MySQL in
// chunks of 10 while fast-check draws live writes — MySQL updates, deletes and inserts, PostgreSQL
// updates — spread over the snapshot's run. The snapshot carries no watermarks (docs/guarantees.md,
// "Snapshots"): only the version guard keeps an older chunk row from overwriting a live change or bringing
// a deleted row back. After each run: both stores equal column by column, every acknowledged write there
// with its last value, deleted rows absent, and no (id, version) applied twice. Every update writes every
// mutable column, so the last write of a row decides all of it (row-level last-writer-wins).
// SNAPSHOT_LIVE_RUNS sets the number of drawn schedules (default 3).
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { sql } from 'kysely';
import { reconcile } from '../../src/reconcile/reconcile.ts';
import { followBackfill, requestBackfill } from '../../src/relay/backfill.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { EmployeeFields } from '../../src/store/types.ts';
import { assertNoDoubleApply, assertNoLoss, waitForConvergence, type ExpectedRow } from '../support/assertions.ts';
import { installApplyLog } from '../support/fault-apply-log.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const config = testConfig('snapshot_live_writes', {
  BACKFILL_CHUNK_SIZE: '10',
  LOG_CHECK_INTERVAL_MS: '500',
  DRIFT_CHECK_INTERVAL_MS: '0',
  BACKFILL_ON_START: 'false',
});
const numRuns = Number(process.env.SNAPSHOT_LIVE_RUNS ?? 3);
const seededRows = 300;
let running: RunningRole;

type Values = Omit<EmployeeFields, 'email' | 'extra'>;
const text = fc.stringMatching(/^[A-Za-zÀ-ÿ0-9 ]{1,16}$/);
const values: fc.Arbitrary<Values> = fc.record({
  nom: text,
  prenom: text,
  poste: text,
  department: text,
  salaire: fc.integer({ min: 0, max: 99_999_999 }).map((c) => `${Math.floor(c / 100)}.${String(c % 100).padStart(2, '0')}`),
});
const write = fc.oneof(
  fc.record({ kind: fc.constant('mysql-update' as const), row: fc.nat(seededRows - 1), values }),
  fc.record({ kind: fc.constant('postgres-update' as const), row: fc.nat(seededRows - 1), values }),
  fc.record({ kind: fc.constant('mysql-delete' as const), row: fc.nat(seededRows - 1) }),
  fc.record({ kind: fc.constant('mysql-insert' as const), values }),
);
const schedule = fc.array(fc.record({ write, pauseMs: fc.integer({ min: 0, max: 15 }) }), { minLength: 10, maxLength: 40 });

/** What each row must end as, across every run (rows of earlier runs stay and must stay unchanged). */
const expected = new Map<string, ExpectedRow>();
let runNumber = 0;
/** Writes made while the snapshot had not ended yet (the test is void if none overlapped it). */
let writesDuringSnapshot = 0;

async function seed(run: number): Promise<{ ids: number[]; emails: string[] }> {
  const ids = Array.from({ length: seededRows }, (_, i) => run * 100_000 + i + 1);
  const emails = ids.map((id) => `snap${id}@example.fr`);
  // Written as the sink writes (not captured): rows PostgreSQL never saw, at old versions.
  await running.stores.mysql.db.transaction().execute(async (trx) => {
    await sql`SET @sync_origin = 'sink'`.execute(trx);
    const rows = ids.map(
      (id, i) => sql`(${id}, ${`Nom ${id}`}, 'Seed', ${emails[i]!}, 'Dev', '100.00', 'Seed', ${1_000_000 + id}, 'mysql', 0)`,
    );
    await sql`INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, sync_version, sync_origin, sync_seen_version)
              VALUES ${sql.join(rows)}`.execute(trx);
    await sql`SET @sync_origin = NULL`.execute(trx);
  });
  ids.forEach((id, i) => {
    expected.set(emails[i]!, { id, email: emails[i]!, accepted: [{ nom: `Nom ${id}`, prenom: 'Seed', email: emails[i]!, poste: 'Dev', salaire: '100.00', department: 'Seed' }] });
  });
  return { ids, emails };
}

describe('a snapshot while both stores keep changing', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
    await installApplyLog(running.stores);
  });
  after(async () => {
    await running?.stop();
  });

  it('ends with both stores equal, every write kept, nothing resurrected or applied twice', async () => {
    await fc.assert(
      fc.asyncProperty(schedule, async (steps) => {
        const run = ++runNumber;
        const { ids, emails } = await seed(run);
        const deleted = new Set<number>();
        const [request] = await requestBackfill(running.stores.mysql, ['employes'], { resume: false });
        let inserted = 0;
        let snapshotEnded = false;
        for (const { write: step, pauseMs } of steps) {
          await new Promise((resolve) => setTimeout(resolve, pauseMs));
          snapshotEnded ||= (await running.stores.mysql.outbox.snapshotRuns()).some((r) => r.run === request!.run && r.done);
          if (!snapshotEnded) writesDuringSnapshot++;
          if (step.kind === 'mysql-insert') {
            const email = `live${run}-${++inserted}@example.fr`;
            const result = await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                                     VALUES (${step.values.nom}, ${step.values.prenom}, ${email}, ${step.values.poste}, ${step.values.salaire}, ${step.values.department})`.execute(running.stores.mysql.db);
            expected.set(email, { id: Number(result.insertId), email, accepted: [{ ...step.values, email }] });
            continue;
          }
          const id = ids[step.row]!;
          const email = emails[step.row]!;
          // A deleted row stays deleted: nothing writes it again (the last write decides a row).
          if (deleted.has(id)) continue;
          if (step.kind === 'mysql-delete') {
            await sql`DELETE FROM employes WHERE id = ${id}`.execute(running.stores.mysql.db);
            deleted.add(id);
            expected.set(email, { id, email, accepted: [null] });
            continue;
          }
          const db = step.kind === 'mysql-update' ? running.stores.mysql.db : running.stores.postgres.db;
          const v = step.values;
          const result = await sql`UPDATE employes SET nom = ${v.nom}, prenom = ${v.prenom}, poste = ${v.poste}, salaire = ${v.salaire},
                                     department = ${v.department} WHERE id = ${id}`.execute(db);
          // PostgreSQL may not hold the row yet (the snapshot has not brought it): then nothing was written.
          if (Number(result.numAffectedRows ?? 0n) > 0) expected.set(email, { id, email, accepted: [{ ...v, email }] });
        }
        await followBackfill(running.stores.mysql.outbox, [request!.run]);
        await waitForConvergence(running.stores, 120_000);
        const report = await reconcile(running.stores, running.schemas.schemas, { settleMs: 0 });
        assert.equal(report.divergent, 0, JSON.stringify(report.sample.slice(0, 3)));
        await assertNoLoss(running.stores, [...expected.values()]);
        await assertNoDoubleApply(running.stores);
      }),
      { numRuns, endOnFailure: true },
    );
    assert.ok(writesDuringSnapshot > numRuns, `writes overlapped the snapshots (${writesDuringSnapshot})`);
  });

  it('a PostgreSQL snapshot into MySQL while PostgreSQL changes', async () => {
    // MySQL loses every row (without capture): the snapshot of PostgreSQL must bring them all back,
    // with the changes PostgreSQL takes meanwhile.
    await running.stores.mysql.db.transaction().execute(async (trx) => {
      await sql`SET @sync_origin = 'sink'`.execute(trx);
      await sql`DELETE FROM employes`.execute(trx);
      await sql`SET @sync_origin = NULL`.execute(trx);
    });
    const [request] = await requestBackfill(running.stores.postgres, ['employes'], { resume: false });
    const rows = await running.stores.postgres.employees.dump();
    for (const row of rows.filter((_, i) => i % 7 === 0)) {
      await sql`UPDATE employes SET poste = 'Pendant' WHERE id = ${row.id}`.execute(running.stores.postgres.db);
      expected.set(row.email, { id: row.id, email: row.email, accepted: [{ nom: row.nom, prenom: row.prenom, email: row.email, poste: 'Pendant', salaire: row.salaire, department: row.department }] });
    }
    await followBackfill(running.stores.postgres.outbox, [request!.run]);
    assert.equal(await waitForConvergence(running.stores, 120_000), rows.length);
    await assertNoLoss(running.stores, [...expected.values()]);
  });
});
