// A relay never stalls on one row: a row holding a value the other engine cannot store (already there
// before the CHECK constraints, or written with them dropped) is parked in its store's
// sync_dead_letters with its reason, while later changes flow; reads of the API still answer; the
// parked change is listed and, once the row is fixed, replayed.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { listDeadLetters, replayDeadLetters } from '../../src/roles/dead-letters.ts';
import { startApi, type RunningApi } from '../api/api-client.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('park_unportable');
let api: RunningApi;

describe('relay: values the other engine cannot store', () => {
  before(async () => {
    api = await startApi(config);
  });
  after(async () => api?.running.stop());

  it('parks a PostgreSQL row with an infinite date, keeps the relay and the API going, and replays it once fixed', async () => {
    const { mysql, postgres } = api.running.stores;
    // A row stored before the constraint existed: drop it for the write, as a DBA restoring old data would.
    await sql`ALTER TABLE employes DROP CONSTRAINT employes_date_embauche_portable`.execute(postgres.db);
    const { rows } = await sql<{ id: number }>`
      INSERT INTO employes (nom, prenom, email, poste, salaire, department, date_embauche)
      VALUES ('Inf', 'Ini', 'infinite@example.fr', 'Dev', 10, 'IT', 'infinity') RETURNING id`.execute(postgres.db);
    const id = rows[0]!.id;
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('After', 'Parked', 'after.parked@example.fr', 'Dev', 11, 'IT')`.execute(postgres.db);
    // The later change crosses: the relay did not stall.
    await waitFor('the later row in MariaDB', async () => (await mysql.employees.list()).some((r) => r.email === 'after.parked@example.fr'));
    assert.equal(await mysql.employees.find(id), null, 'the unportable row did not cross');
    const [parked] = await listDeadLetters(api.running.stores);
    assert.equal(parked?.store, 'postgres');
    assert.equal(parked?.stage, 'relay');
    assert.equal(parked?.code, 'EMPSYNC_VALUE_NOT_PORTABLE');
    assert.equal(parked?.employeId, id);
    assert.match(parked?.reason ?? '', /date_embauche "infinity" is outside 1000-01-01 00:00:00\.\.9999-12-31/);
    assert.equal(await postgres.outbox.backlog(), 0, 'the parked row left the outbox');
    const counted = (await api.running.metrics.relayParked.get()).values.find((v) => v.labels.store === 'postgres');
    assert.equal(counted?.value, 1);

    // The read model still answers every read, the unusual row included.
    const list = await api.gql<{ employes: { id: number; dateEmbauche: string }[] }>('{ employes { id dateEmbauche } }');
    assert.equal(list.errors, undefined, JSON.stringify(list.errors));
    assert.equal(list.data?.employes.find((e) => e.id === id)?.dateEmbauche, 'infinity');

    // syncStatus counts it; deadLetters shows it with its reason.
    const status = await api.gql<{ syncStatus: { directions: { direction: string; parkedAtRelay: number; parkedAtSink: number }[] } }>(
      '{ syncStatus { directions { direction parkedAtRelay parkedAtSink } } }',
    );
    assert.deepEqual(status.data?.syncStatus.directions, [
      { direction: 'mysql->postgres', parkedAtRelay: 0, parkedAtSink: 0 },
      { direction: 'postgres->mysql', parkedAtRelay: 1, parkedAtSink: 0 },
    ]);
    const letters = await api.gql<{ deadLetters: { id: string; code: string; stage: string; employeId: number; superseded: boolean }[] }>(
      '{ deadLetters { id code stage employeId superseded } }',
    );
    assert.deepEqual(letters.data?.deadLetters, [
      { id: `postgres:${parked!.id}`, code: 'EMPSYNC_VALUE_NOT_PORTABLE', stage: 'relay', employeId: id, superseded: false },
    ]);

    // Fixed at the source: the fix itself is a change that crosses (a full row supersedes the parked one).
    await sql`UPDATE employes SET date_embauche = '2020-01-01 00:00:00+00' WHERE id = ${id}`.execute(postgres.db);
    await waitFor('the fixed row in MariaDB', async () => (await mysql.employees.find(id))?.dateEmbauche === '2020-01-01T00:00:00.000000Z');
    const replay = await api.gql<{ replayDeadLetters: { id: string; outcome: string }[] }>(
      `mutation { replayDeadLetters(ids: ["postgres:${parked!.id}"]) { id outcome } }`,
    );
    assert.deepEqual(replay.data?.replayDeadLetters, [{ id: `postgres:${parked!.id}`, outcome: 'requeued' }]);
    assert.deepEqual(await listDeadLetters(api.running.stores), [], 'nothing parked any more');
    assert.equal((await listDeadLetters(api.running.stores, { includeReplayed: true }))[0]?.status, 'replayed');
    await waitForConvergence(api.running.stores);
  });

  it('parks MariaDB rows with a zero date or a NUL character; a later delete of such a row still crosses', async () => {
    const { mysql, postgres } = api.running.stores;
    const created = await mysql.employees.insert({
      nom: 'Zero', prenom: 'Date', email: 'zero.date@example.fr', poste: 'Dev', salaire: '1.00', department: 'IT',
    });
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(created.id));
    await sql`ALTER TABLE employes DROP CONSTRAINT employes_date_embauche_portable, DROP CONSTRAINT employes_nom_portable`.execute(mysql.db);
    await sql`UPDATE employes SET date_embauche = '0000-00-00 00:00:00' WHERE id = ${created.id}`.execute(mysql.db);
    await sql`UPDATE employes SET nom = CONCAT('Nul', CHAR(0 USING utf8mb4)) WHERE id = ${created.id}`.execute(mysql.db);
    await waitFor('two changes parked in MariaDB', async () =>
      (await listDeadLetters(api.running.stores)).filter((l) => l.store === 'mysql').length === 2,
    );
    const reasons = (await listDeadLetters(api.running.stores)).filter((l) => l.store === 'mysql').map((l) => l.reason);
    assert.match(reasons.join('\n'), /date_embauche "0000-00-00T00:00:00\.000000Z" is outside/);
    assert.match(reasons.join('\n'), /date_embauche|U\+0000/);
    // A delete carries only the row's id: never parked behind its row's values.
    await sql`DELETE FROM employes WHERE id = ${created.id}`.execute(mysql.db);
    await waitFor('the delete in PostgreSQL', async () => (await postgres.employees.find(created.id)) === null);
    const replayed = await replayDeadLetters(api.running.stores, api.running.schemas, 'newer-wins', { all: true });
    assert.deepEqual(
      replayed.map((r) => r.outcome),
      ['gone', 'gone'],
    );
    await assertStoresEqual(api.running.stores);
  });

  it('parks a row written before the capture refused it: a unique email ending with a space', async () => {
    const { mysql, postgres } = api.running.stores;
    // Written with triggers off (a restore), then changed normally: the change is captured with the old email.
    const email = 'legacy.space@example.fr ';
    await postgres.db.connection().execute(async (db) => {
      await sql`SET session_replication_role = replica`.execute(db);
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('Old', 'Row', ${email}, 'Dev', 1, 'IT')`.execute(db);
      await sql`SET session_replication_role = DEFAULT`.execute(db);
    });
    await sql`UPDATE employes SET poste = 'Lead' WHERE email = ${email}`.execute(postgres.db);
    await waitFor('the change parked', async () => (await listDeadLetters(api.running.stores)).some((l) => /email is unique and ends with a space/.test(l.reason)));
    assert.equal((await mysql.employees.list()).filter((r) => r.email.startsWith('legacy.space')).length, 0, 'it did not reach MySQL');
  });
});
