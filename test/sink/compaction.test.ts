// Deletes survive compaction. The change topic is compacted: once the cleaner has run, a deleted row
// leaves only the tombstone that followed its delete event. A sink that was behind, or one rebuilt
// from offset 0, must still delete the row: the tombstone repeats the delete (its version and origin).
// The topic here rolls segments every 500 ms and is cleaned as soon as the broker's cleaner looks.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer } from '@platformatic/kafka';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('compaction');
const deps = { config, logger: quietLogger(config) };
let relay: RunningRole;
let sink: RunningRole | null = null;

/** Every record of the topic now, by key: value null for a tombstone. */
async function topicRecords(): Promise<Map<string, (string | null)[]>> {
  const admin = new Admin(baseClientOptions(config, 'test-compaction-admin'));
  const partitions = [0, 1, 2];
  const [ends] = await admin.listOffsets({
    topics: [{ name: config.KAFKA_TOPIC, partitions: partitions.map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
  });
  await admin.close();
  const consumer = new Consumer({ ...baseClientOptions(config, 'test-compaction-read'), groupId: `compaction-read-${Date.now()}` });
  const byKey = new Map<string, (string | null)[]>();
  const reached = new Map<number, bigint>();
  try {
    const stream = await consumer.consume({ topics: [config.KAFKA_TOPIC], mode: 'earliest', maxWaitTime: 100 });
    stream.on('data', (m) => {
      const key = m.key.toString();
      byKey.set(key, [...(byKey.get(key) ?? []), m.value?.length ? m.value.toString() : null]);
      reached.set(m.partition, m.offset + 1n);
    });
    const done = () => ends!.partitions.every((p) => p.offset === 0n || (reached.get(p.partitionIndex) ?? 0n) >= p.offset);
    await waitFor('the whole topic read', async () => done(), 20_000);
    await stream.close();
  } finally {
    await consumer.close(true);
  }
  return byKey;
}

describe('deletes survive compaction', () => {
  before(async () => {
    await dropTestDatabases(config);
    const admin = new Admin(baseClientOptions(config, 'test-compaction-topic'));
    try {
      await admin.createTopics({
        topics: [config.KAFKA_TOPIC],
        partitions: 3,
        replicas: 1,
        configs: [
          { name: 'cleanup.policy', value: 'compact' },
          { name: 'segment.ms', value: '500' },
          { name: 'min.cleanable.dirty.ratio', value: '0.001' },
          { name: 'min.compaction.lag.ms', value: '0' },
          { name: 'max.compaction.lag.ms', value: '1000' },
          { name: 'delete.retention.ms', value: String(10 * 60 * 1000) },
        ],
      });
    } finally {
      await admin.close();
    }
    relay = await startRole('relay', deps, ['mysql']);
  });
  after(async () => {
    await sink?.stop();
    await relay?.stop();
  });

  it('a sink that was behind while compaction ran, and a sink rebuilt from offset 0, both delete the rows', async () => {
    const { mysql } = relay.stores;
    sink = await startRole('sink', deps, ['postgres']);
    for (let i = 0; i < 30; i++) {
      await mysql.employees.insert({ nom: `N${i}`, prenom: 'P', email: `compact.${i}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'IT' });
    }
    assert.equal(await waitForConvergence({ mysql, postgres: sink.stores.postgres }), 30);
    await sink.stop();
    sink = null;

    // While the sink is away: deletes and updates, then a later write so the segment holding them rolls.
    const ids = (await mysql.employees.dump()).map((r) => r.id);
    const deleted = ids.slice(0, 10);
    await sql`DELETE FROM employes WHERE id IN (${sql.join(deleted)})`.execute(mysql.db);
    await sql`UPDATE employes SET salaire = 2 WHERE id IN (${sql.join(ids.slice(10, 20))})`.execute(mysql.db);
    const rolled = await waitFor(
      'compaction to keep only the tombstones of the deleted rows',
      async () => {
        await mysql.employees.insert({ nom: 'Roll', prenom: 'P', email: `roll.${Date.now()}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'IT' });
        const records = await topicRecords();
        return deleted.every((id) => (records.get(String(id)) ?? []).every((value) => value === null)) ? records : null;
      },
      120_000,
    );
    assert.ok(deleted.every((id) => rolled.get(String(id))?.length), 'the tombstones are still there');

    // The sink comes back: only tombstones tell it about the deletes.
    sink = await startRole('sink', deps, ['postgres']);
    await waitForConvergence({ mysql, postgres: sink.stores.postgres }, 60_000);
    assert.deepEqual(await sink.stores.postgres.employees.findMany(deleted), []);
    await sink.stop();
    sink = null;

    // A sink rebuilt from nothing reads the compacted topic from offset 0 and ends with exactly MySQL's rows.
    const { Client } = (await import('pg')).default;
    const client = new Client({ connectionString: config.POSTGRES_URL });
    await client.connect();
    await client.query('DROP TABLE employes, sync_outbox, sync_tombstones, sync_offsets, sync_conflicts, sync_backfill, sync_dead_letters, sync_log_identity, sync_relay_wakeup, empsync_migrations, empsync_migrations_lock CASCADE');
    await client.end();
    sink = await startRole('sink', deps, ['postgres']);
    const rows = await waitForConvergence({ mysql, postgres: sink.stores.postgres }, 60_000);
    assert.equal(rows, (await mysql.employees.count()));
    assert.deepEqual(await sink.stores.postgres.employees.findMany(deleted), []);
  });

  it('a sink away longer than the topic keeps tombstones says so when it comes back', async () => {
    const { mysql } = relay.stores;
    await sink?.stop();
    sink = null;
    // Ten minutes of tombstones (delete.retention.ms above); this sink last moved two days ago.
    const { Client } = (await import('pg')).default;
    const client = new Client({ connectionString: config.POSTGRES_URL });
    await client.connect();
    await client.query(`UPDATE sync_offsets SET updated_at = now() - interval '2 days'`);
    await client.end();
    await mysql.employees.insert({ nom: 'Late', prenom: 'P', email: `late.${Date.now()}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'IT' });
    sink = await startRole('sink', deps, ['postgres']);
    const reported = async () =>
      (await sink!.metrics.logResets.get()).values.filter((v) => v.labels.reason === 'tombstones-expired').reduce((n, v) => n + v.value, 0);
    await waitFor('the expired tombstones reported', async () => (await reported()) >= 1);
    await waitForConvergence({ mysql, postgres: sink.stores.postgres }, 60_000);
  });
});
