// Offsets know which log they belong to, and the database is the truth: a topic deleted and created
// again (a new log) is read from its start and both stores are re-published into it; a database whose
// offsets went back (a restore) is re-fed from there. Nothing is skipped as "already applied" on the
// word of another log.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin } from '@platformatic/kafka';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('log_identity', { LOG_CHECK_INTERVAL_MS: '500' });
let running: RunningRole;

const fields = (email: string) => ({ nom: 'N', prenom: 'P', email, poste: 'Dev', salaire: '100.00', department: 'IT' });
const counter = async (name: 'logResets', labels: Record<string, string>) =>
  (await running.metrics[name].get()).values.filter((v) => Object.entries(labels).every(([k, value]) => v.labels[k as 'stage'] === value)).reduce((sum, v) => sum + v.value, 0);

describe('offsets bound to their log', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  it('a topic deleted and created again: every later change crosses, in both directions', async () => {
    const { mysql, postgres } = running.stores;
    for (let i = 0; i < 20; i++) await mysql.employees.insert(fields(`before.${i}@example.fr`));
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Pg', 'Before', 'pg.before@example.fr', 'Dev', 5, 'IT')`.execute(postgres.db);
    await waitForConvergence(running.stores);
    const logBefore = await mysql.outbox.readPublishedLog(config.KAFKA_TOPIC);

    const admin = new Admin(baseClientOptions(config, 'test-delete-topic'));
    try {
      await admin.deleteTopics({ topics: [config.KAFKA_TOPIC] });
    } finally {
      await admin.close();
    }
    // Changes made after the swap, through both stores, by the store API and by plain SQL.
    for (let i = 0; i < 15; i++) await mysql.employees.insert(fields(`after.${i}@example.fr`));
    await sql`UPDATE employes SET salaire = 777 WHERE email LIKE 'before.%'`.execute(mysql.db);
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Pg', 'After', 'pg.after@example.fr', 'Dev', 6, 'IT')`.execute(postgres.db);
    await sql`DELETE FROM employes WHERE email = 'pg.before@example.fr'`.execute(postgres.db);
    const rows = await waitForConvergence(running.stores, 120_000);
    assert.equal(rows, 20 + 15 + 1);
    assert.equal((await postgres.employees.list()).filter((r) => r.salaire === '777.00').length, 20);
    assert.notEqual(await mysql.outbox.readPublishedLog(config.KAFKA_TOPIC), logBefore, 'the relay knows the new log');
    // Each relay notices at its next identity check (LOG_CHECK_INTERVAL_MS) or publish: the data may
    // have crossed already (a relay publishing into the recreated topic re-publishes its table once it notices).
    await waitFor('both relays to see the new log', async () => (await counter('logResets', { stage: 'relay', reason: 'log-changed' })) >= 2, 30_000);
    const skipped = (await running.metrics.skipped.get()).values.find((v) => v.labels.reason === 'already-applied' && v.labels.store === 'postgres');
    assert.ok((skipped?.value ?? 0) < 5, `events of the new log were skipped as already applied: ${skipped?.value}`);
  });

  it('a database whose offsets went back (a restore) is fed again from there', async () => {
    const { mysql, postgres } = running.stores;
    await waitForConvergence(running.stores);
    const group = `${config.SINK_GROUP_PREFIX}-postgres`;
    // What a restore from an older dump does to PostgreSQL: rows and offsets from before, no capture.
    const lost = (await mysql.employees.list()).filter((r) => r.email.startsWith('after.')).map((r) => r.id);
    await postgres.db.transaction().execute(async (trx) => {
      await sql`SELECT set_config('app.sync_origin', 'sink', true)`.execute(trx);
      await sql`DELETE FROM employes WHERE id = ANY(${lost}::int[])`.execute(trx);
      await sql`UPDATE sync_offsets SET next_offset = 0 WHERE consumer_group = ${group}`.execute(trx);
    });
    assert.equal((await postgres.employees.findMany(lost)).length, 0);
    await waitFor('a rewind counted', async () => (await counter('logResets', { stage: 'sink', store: 'postgres', reason: 'rewound' })) >= 1, 30_000);
    assert.equal(await waitForConvergence(running.stores, 60_000), 36);
  });
});

describe('partitions added to the topic while the sinks run', () => {
  const added = testConfig('partitions_added', { LOG_CHECK_INTERVAL_MS: '500' });
  let stack: RunningRole;
  before(async () => {
    await dropTestDatabases(added);
    stack = await startRole('all', { config: added, logger: quietLogger(added) });
  });
  after(async () => stack?.stop());

  it('changes keyed to the new partitions cross too', async () => {
    const { mysql } = stack.stores;
    for (let i = 0; i < 10; i++) await mysql.employees.insert(fields(`three.${i}@example.fr`));
    await waitForConvergence(stack.stores);
    const admin = new Admin(baseClientOptions(added, 'test-add-partitions'));
    try {
      await admin.createPartitions({ topics: [{ name: added.KAFKA_TOPIC, count: 6 }] });
    } finally {
      await admin.close();
    }
    // Until the relay's producer learns of the new partitions, keys still go to the first three.
    let written = 10;
    const group = `${added.SINK_GROUP_PREFIX}-postgres`;
    await waitFor(
      'a change applied from a new partition',
      async () => {
        for (let i = 0; i < 10; i++) await mysql.employees.insert(fields(`six.${written++}@example.fr`));
        return (await stack.stores.postgres.apply.readOffsets(group, added.KAFKA_TOPIC)).some((o) => o.partition >= 3 && o.nextOffset > 0n);
      },
      60_000,
    );
    assert.equal(await waitForConvergence(stack.stores, 60_000), written);
  });
});
