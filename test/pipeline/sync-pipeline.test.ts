// The sync pipeline end to end against the real MariaDB, PostgreSQL and Kafka: plain SQL changes on
// either side reach the other, concurrent load converges, poison events go to the DLQ, replays are
// harmless.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Consumer, Producer } from '@platformatic/kafka';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { Sink } from '../../src/sink/sink.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { assertStoresEqual, waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('pipeline');
let running: RunningRole;

/**
 * As a MySQL application must: a statement chosen as a deadlock victim (1213) is run again. A delete's
 * capture trigger inserting its tombstone can deadlock with the MySQL sink's locking read, which holds
 * gap locks on sync_tombstones (docs/guarantees.md, "Deadlocks with the sink"); the delete is not applied.
 */
async function retryDeadlock<T>(statement: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await statement();
    } catch (error) {
      if ((error as { errno?: number }).errno !== 1213 || attempt >= 5) throw error;
    }
  }
}

describe('sync pipeline (MariaDB ⇄ Kafka ⇄ PostgreSQL)', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => {
    await running?.stop();
  });

  it('plain SQL insert, update and delete in MariaDB show up in PostgreSQL', async () => {
    const { mysql, postgres } = running.stores;
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Dupont', 'Jean', 'jean.dupont@example.fr', 'Dev', 4200.50, 'IT')`.execute(mysql.db);
    const created = await waitFor('insert in PostgreSQL', async () =>
      (await postgres.employees.list()).find((r) => r.email === 'jean.dupont@example.fr'),
    );
    assert.equal(created.salaire, '4200.50');
    assert.ok(created.id > 0, 'MySQL-born ids are positive');
    await sql`UPDATE employes SET salaire = 5000.05, poste = 'Lead' WHERE id = ${created.id}`.execute(mysql.db);
    await waitFor('update in PostgreSQL', async () => (await postgres.employees.find(created.id))?.salaire === '5000.05');
    await sql`DELETE FROM employes WHERE id = ${created.id}`.execute(mysql.db);
    await waitFor('delete in PostgreSQL', async () => (await postgres.employees.find(created.id)) === null);
    await assertStoresEqual(running.stores);
  });

  it('plain SQL changes in PostgreSQL reach MariaDB, with ids that cannot collide', async () => {
    const { mysql, postgres } = running.stores;
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Martin', 'Anne', 'anne.martin@example.fr', 'PM', 3900, 'Sales')`.execute(postgres.db);
    const fromPostgres = await waitFor('insert in MariaDB', async () =>
      (await mysql.employees.list()).find((r) => r.email === 'anne.martin@example.fr'),
    );
    assert.ok(fromPostgres.id < 0, 'PostgreSQL-born ids are negative');
    const fromMysql = await mysql.employees.insert({
      nom: 'Petit', prenom: 'Luc', email: 'luc.petit@example.fr', poste: 'Ops', salaire: '3000.00', department: 'Sales',
    });
    assert.ok(fromMysql.id > 0);
    await sql`UPDATE employes SET department = 'Marketing' WHERE id = ${fromPostgres.id}`.execute(postgres.db);
    await waitFor('update in MariaDB', async () => (await mysql.employees.find(fromPostgres.id))?.department === 'Marketing');
    await waitForConvergence(running.stores);
  });

  it('10,000 concurrent changes converge with both tables identical row by row', async () => {
    const { mysql } = running.stores;
    const workers = 10;
    const perWorker = 500; // each worker: inserts in 50-row transactions, then single-row updates and deletes
    await Promise.all(
      Array.from({ length: workers }, async (_, w) => {
        for (let batch = 0; batch < perWorker / 50; batch++) {
          const values = Array.from({ length: 50 }, (_, i) => {
            const n = w * perWorker + batch * 50 + i;
            return sql`(${`Nom${n}`}, ${`Prenom${n}`}, ${`load${n}@example.fr`}, 'Dev', ${(1000 + n / 100).toFixed(2)}, ${`D${n % 7}`})`;
          });
          await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(mysql.db);
        }
        const { rows } = await sql<{ id: number }>`SELECT id FROM employes WHERE email LIKE ${`load${w}%`} ORDER BY id LIMIT 500`.execute(mysql.db);
        for (const [i, { id }] of rows.entries()) {
          await retryDeadlock(() =>
            i % 5 === 0
              ? sql`DELETE FROM employes WHERE id = ${id}`.execute(mysql.db)
              : sql`UPDATE employes SET salaire = salaire + 1 WHERE id = ${id}`.execute(mysql.db),
          );
        }
      }),
    );
    const count = await waitForConvergence(running.stores, 180_000);
    assert.ok(count > 3000, `expected thousands of rows, got ${count}`);
  });

  it('a poison event lands in the DLQ with its reason while later events still apply', async () => {
    const producer = new Producer(baseClientOptions(config, 'test-poison'));
    try {
      await producer.send({
        messages: [
          { topic: config.KAFKA_TOPIC, key: Buffer.from('999999'), value: Buffer.from('{"not":"an event"') },
          { topic: config.KAFKA_TOPIC, key: Buffer.from('999998'), value: Buffer.from(JSON.stringify({ schema: 'x' })) },
        ],
      });
    } finally {
      await producer.close();
    }
    const later = await running.stores.mysql.employees.insert({
      nom: 'Apres', prenom: 'Poison', email: 'after.poison@example.fr', poste: 'QA', salaire: '10.00', department: 'QA',
    });
    await waitFor('the later event in PostgreSQL', () => running.stores.postgres.employees.find(later.id));
    const consumer = new Consumer({ ...baseClientOptions(config, 'test-dlq'), groupId: `dlq-reader-${process.pid}` });
    try {
      const stream = await consumer.consume({ topics: [config.KAFKA_DLQ_TOPIC], mode: 'earliest' });
      const reasons: string[] = [];
      stream.on('data', (message) => {
        for (const [key, value] of message.headers) if (key.toString() === 'empsync-error-reason') reasons.push(value.toString());
      });
      // Both sinks (PostgreSQL and MySQL) park each of the two poison events.
      await waitFor('four messages in the DLQ', async () => reasons.length >= 4);
      assert.ok(reasons.some((r) => /not JSON/.test(r)), reasons.join(' | '));
      assert.ok(reasons.some((r) => /violates/.test(r)), reasons.join(' | '));
      await stream.close();
    } finally {
      await consumer.close(true);
    }
  });

  it('a replay of the whole topic from offset 0 changes nothing', async () => {
    await waitForConvergence(running.stores);
    const before = await running.stores.postgres.employees.dump();
    const applied = () => running.metrics.applied.get().then((m) => m.values.reduce((sum, v) => sum + v.value, 0));
    const appliedBefore = await applied();
    const replay = new Sink({
      store: running.stores.postgres,
      table: 'employes',
      schemas: running.schemas,
      kafka: config,
      metrics: running.metrics,
      logger: quietLogger(config),
      policy: 'newer-wins',
      consumerGroup: `replay-${process.pid}`,
      maxBatch: 2000,
    });
    await replay.start();
    try {
      const key = (offsets: { partition: number; nextOffset: bigint }[]) =>
        JSON.stringify(offsets.map((o) => [o.partition, o.nextOffset.toString()]).sort());
      const end = key(await running.stores.postgres.apply.readOffsets(`${config.SINK_GROUP_PREFIX}-postgres`, config.KAFKA_TOPIC));
      await waitFor(
        'the replay to reach the end of the topic',
        async () => key(await running.stores.postgres.apply.readOffsets(`replay-${process.pid}`, config.KAFKA_TOPIC)) === end,
        120_000,
      );
    } finally {
      await replay.stop();
    }
    assert.equal(await applied(), appliedBefore, 'the replay applied events');
    assert.deepEqual(await running.stores.postgres.employees.dump(), before);
  });
});
