// Events a sink cannot apply: parked (sync_dead_letters of the target, and the DLQ topic) in the
// same transaction that moves the offsets past them; later changes of the same row supersede them;
// a delete is never lost behind a parked update; replay goes through the version guard and is
// idempotent; when the DLQ does not take a poison event, only its partition waits.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer, Producer } from '@platformatic/kafka';
import { sql } from 'kysely';
import { listDeadLetters, replayDeadLetters } from '../../src/roles/dead-letters.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { baseClientOptions, readHeader } from '../../src/transport/kafka.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('dead_letters', { LOG_CHECK_INTERVAL_MS: '500' });
let running: RunningRole;

const fields = (email: string, poste = 'Dev') => ({ nom: 'N', prenom: 'P', email, poste, salaire: '100.00', department: 'IT' });
const postgresGroup = `${config.SINK_GROUP_PREFIX}-postgres`;

async function dlqMessages(): Promise<{ offset: string; partition: string; store: string }[]> {
  const consumer = new Consumer({ ...baseClientOptions(config, 'test-dlq-read'), groupId: `dlq-read-${Date.now()}` });
  try {
    const stream = await consumer.consume({ topics: [config.KAFKA_DLQ_TOPIC], mode: 'earliest', maxWaitTime: 100 });
    const seen: { offset: string; partition: string; store: string }[] = [];
    stream.on('data', (m) =>
      seen.push({
        offset: readHeader(m.headers, 'empsync-source-offset') ?? '',
        partition: readHeader(m.headers, 'empsync-source-partition') ?? '',
        store: readHeader(m.headers, 'empsync-sink-store') ?? '',
      }),
    );
    const admin = new Admin(baseClientOptions(config, 'test-dlq-size'));
    const ends = await admin.listOffsets({
      topics: [{ name: config.KAFKA_DLQ_TOPIC, partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, timestamp: -1n })) }],
    });
    await admin.close();
    const total = ends.flatMap((t) => t.partitions).reduce((sum, p) => sum + Number(p.offset), 0);
    await waitFor('the whole DLQ topic read', async () => seen.length >= total, 20_000);
    await stream.close();
    return seen;
  } finally {
    await consumer.close(true);
  }
}

describe('sink dead letters', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => running?.stop());

  it('parks an update the target refuses, in its table and on the DLQ topic; a later delete of the row still applies', async () => {
    const { mysql, postgres } = running.stores;
    const row = await mysql.employees.insert(fields('refused@example.fr'));
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    // The target alone refuses this value (a stricter constraint added there by a DBA).
    await sql`ALTER TABLE employes ADD CONSTRAINT test_no_rejected CHECK (poste <> 'Rejected')`.execute(postgres.db);
    await mysql.employees.update(row.id, fields('refused@example.fr', 'Rejected'));
    const later = await mysql.employees.insert(fields('later@example.fr'));
    await waitFor('the later row in PostgreSQL', () => postgres.employees.find(later.id));
    const [parked] = await listDeadLetters(running.stores);
    assert.equal(parked?.store, 'postgres');
    assert.equal(parked?.stage, 'sink');
    assert.equal(parked?.code, 'EMPSYNC_APPLY_REJECTED');
    assert.equal(parked?.employeId, row.id);
    assert.equal(parked?.op, 'u');
    assert.match(parked?.reason ?? '', /test_no_rejected/);
    const topicCopies = (await dlqMessages()).filter((m) => m.offset === parked?.source.offset && m.partition === parked?.source.partition);
    assert.equal(topicCopies.length, 1, 'one copy on the DLQ topic');
    // The offsets passed the parked event only together with its record.
    const stored = await postgres.apply.readOffsets(postgresGroup, config.KAFKA_TOPIC);
    assert.ok(stored.find((o) => String(o.partition) === parked?.source.partition)!.nextOffset > BigInt(parked!.source.offset ?? -1));

    await mysql.employees.delete(row.id);
    await waitFor('the delete in PostgreSQL', async () => (await postgres.employees.find(row.id)) === null);
    const [replay] = await replayDeadLetters(running.stores, running.schemas, 'newer-wins', { all: true });
    assert.equal(replay?.outcome, 'superseded', 'the newer delete wins over the parked update');
    await sql`ALTER TABLE employes DROP CONSTRAINT test_no_rejected`.execute(postgres.db);
    await assertStoresEqual(running.stores);
  });

  it('replays a parked event after the fix through the version guard, once', async () => {
    const { mysql, postgres } = running.stores;
    const row = await mysql.employees.insert(fields('fixed.later@example.fr'));
    await waitFor('the row in PostgreSQL', () => postgres.employees.find(row.id));
    await sql`ALTER TABLE employes ADD CONSTRAINT test_no_rejected CHECK (poste <> 'Rejected')`.execute(postgres.db);
    const updated = await mysql.employees.update(row.id, fields('fixed.later@example.fr', 'Rejected'));
    await waitFor('the update parked', async () => (await listDeadLetters(running.stores)).length === 1);
    await sql`ALTER TABLE employes DROP CONSTRAINT test_no_rejected`.execute(postgres.db);
    const [letter] = await listDeadLetters(running.stores);
    const key = `postgres:${letter!.id}`;
    assert.deepEqual((await replayDeadLetters(running.stores, running.schemas, 'newer-wins', { keys: [key] })).map((r) => r.outcome), ['applied']);
    assert.equal((await postgres.employees.find(row.id))?.version, updated!.version);
    assert.deepEqual((await replayDeadLetters(running.stores, running.schemas, 'newer-wins', { keys: [key] })).map((r) => r.outcome), ['superseded']);
    assert.deepEqual(await listDeadLetters(running.stores), []);
    await waitForConvergence(running.stores);
  });

  it('holds only the partition whose poison event the DLQ refuses, and parks it once the DLQ takes it', async () => {
    const { mysql, postgres } = running.stores;
    const admin = new Admin(baseClientOptions(config, 'test-dlq-config'));
    const producer = new Producer(baseClientOptions(config, 'test-poison'));
    const dlqConfig = (value: string | null) =>
      admin.incrementalAlterConfigs({
        resources: [
          {
            resourceType: 2,
            resourceName: config.KAFKA_DLQ_TOPIC,
            // 0: SET the value, 1: DELETE it (back to the broker's default).
            configs: [value === null ? { name: 'max.message.bytes', configOperation: 1 } : { name: 'max.message.bytes', value, configOperation: 0 }],
          },
        ],
      });
    try {
      await dlqConfig('8'); // no record fits: every DLQ publish fails
      const poisonPartition = 0;
      const offsetOf = async () =>
        (await postgres.apply.readOffsets(postgresGroup, config.KAFKA_TOPIC)).find((o) => o.partition === poisonPartition)?.nextOffset ?? 0n;
      const before = await offsetOf();
      await producer.send({ messages: [{ topic: config.KAFKA_TOPIC, partition: poisonPartition, key: Buffer.from('123456'), value: Buffer.from('{"garbage"') }] });
      // Changes keep flowing on the other partitions while partition 0 is held.
      const rows: { id: number }[] = [];
      for (let i = 0; i < 30; i++) rows.push(await mysql.employees.insert(fields(`while.held.${i}@example.fr`)));
      await waitFor('a held partition', async () =>
        (await running.metrics.heldPartitions.get()).values.some((v) => v.labels.store === 'postgres' && v.value === 1),
      );
      const applied = async (id: number) => (await postgres.employees.find(id)) !== null;
      await waitFor('rows of other partitions applied', async () => (await Promise.all(rows.map((r) => applied(r.id)))).some(Boolean));
      assert.ok(!(await Promise.all(rows.map((r) => applied(r.id)))).every(Boolean), 'rows of the held partition wait');
      assert.equal(await offsetOf(), before, 'the offset of the held partition did not pass the poison event');
      assert.ok((await running.metrics.dlqPublishFailures.get()).values.some((v) => v.labels.store === 'postgres' && v.value > 0));

      await dlqConfig(null); // the DLQ takes records again
      await waitForConvergence(running.stores, 60_000);
      // Both sinks read the topic; each parks the poison event once its own DLQ publish is retried.
      const parkedBy = async () =>
        (await listDeadLetters(running.stores))
          .filter((l) => l.code === 'EMPSYNC_EVENT_INVALID')
          .map((l) => [l.store, l.source.partition])
          .sort();
      await waitFor('the poison event parked by both sinks', async () => (await parkedBy()).length >= 2);
      assert.deepEqual(await parkedBy(), [
        ['mysql', '0'],
        ['postgres', '0'],
      ]);
      await waitFor('no held partition', async () => (await running.metrics.heldPartitions.get()).values.every((v) => v.value === 0));
    } finally {
      await dlqConfig(null).catch(() => undefined);
      await admin.close();
      await producer.close();
    }
  });
});
