// Two-way sync: changes made on both sides at once converge under each conflict policy, every
// conflict is recorded, one change yields exactly one event (no echo), and the same email created
// on both sides ends in a recorded conflict rather than a stuck partition.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { Consumer } from '@platformatic/kafka';
import { sql, type Kysely } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { Database } from '../../src/store/schema.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const policies = ['newer-wins', 'mysql-wins', 'postgres-wins'] as const;
const started: RunningRole[] = [];

async function startWith(name: string, policy: (typeof policies)[number]) {
  const config = testConfig(name, { CONFLICT_POLICY: policy });
  await dropTestDatabases(config);
  const running = await startRole('all', { config, logger: quietLogger(config) });
  started.push(running);
  return { config, running };
}

/** A small deterministic random generator, so a failure can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
}

async function randomWorkload(db: Kysely<Database>, ids: number[], operations: number, seed: number, side: string) {
  const next = random(seed);
  for (let i = 0; i < operations; i++) {
    const id = ids[Math.floor(next() * ids.length)]!;
    const roll = next();
    if (roll < 0.1) await sql`DELETE FROM employes WHERE id = ${id}`.execute(db);
    else if (roll < 0.15) {
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                VALUES ('New', ${side}, ${`${side}-${seed}-${i}@example.fr`}, 'Dev', 1, 'New')`.execute(db);
    } else await sql`UPDATE employes SET salaire = ${(next() * 10000).toFixed(2)}, nom = ${`${side}${i}`} WHERE id = ${id}`.execute(db);
  }
}

after(async () => {
  for (const running of started) await running.stop();
});

describe('two-way sync', () => {
  for (const policy of policies) {
    it(`1,000 concurrent random changes on both sides converge under ${policy}, conflicts recorded`, async () => {
      const { running } = await startWith(`twoway_${policy.replace('-', '_')}`, policy);
      const { mysql, postgres } = running.stores;
      for (let i = 0; i < 200; i++) {
        await mysql.employees.insert({
          nom: `Seed${i}`, prenom: 'S', email: `seed${i}@example.fr`, poste: 'Dev', salaire: '100.00', department: `D${i % 4}`,
        });
      }
      await waitForConvergence(running.stores);
      const ids = (await mysql.employees.dump()).map((row) => row.id);
      await Promise.all([
        randomWorkload(mysql.db, ids, 500, 1, 'my'),
        randomWorkload(postgres.db, ids, 500, 2, 'pg'),
      ]);
      await waitForConvergence(running.stores, 120_000);
      const recorded = async (db: Kysely<Database>) =>
        Number((await sql<{ n: string }>`SELECT count(*) AS n FROM sync_conflicts`.execute(db)).rows[0]!.n);
      const conflicts = (await recorded(mysql.db)) + (await recorded(postgres.db));
      const counted = (await running.metrics.conflicts.get()).values.reduce((sum, v) => sum + v.value, 0);
      assert.equal(conflicts, counted, 'every counted conflict is recorded');
      assert.ok(conflicts > 0, 'overlapping writes on the same rows must produce conflicts');
      if (policy !== 'newer-wins') {
        const winner = policy === 'mysql-wins' ? 'mysql' : 'postgres';
        const { rows } = await sql<{ outcome: string; incoming_origin: string }>`
          SELECT outcome, incoming_origin FROM sync_conflicts WHERE kind <> 'email'`.execute(postgres.db);
        for (const row of rows) {
          assert.equal(row.outcome === 'incoming-applied', row.incoming_origin === winner, JSON.stringify(row));
        }
      }
    });
  }

  it('one change yields exactly one event, and the applied change is not echoed back', async () => {
    const { config, running } = started[0] ? { config: testConfig('twoway_newer_wins'), running: started[0] } : await startWith('twoway_echo', 'newer-wins');
    const fromMysql = await running.stores.mysql.employees.insert({
      nom: 'Echo', prenom: 'My', email: 'echo.mysql@example.fr', poste: 'Dev', salaire: '1.00', department: 'Echo',
    });
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Echo', 'Pg', 'echo.pg@example.fr', 'Dev', 1, 'Echo')`.execute(running.stores.postgres.db);
    const fromPostgres = await waitFor('the PostgreSQL row in MySQL', async () =>
      (await running.stores.mysql.employees.list({ department: 'Echo' })).find((r) => r.email === 'echo.pg@example.fr'),
    );
    await waitForConvergence(running.stores);
    await waitFor('both outboxes to drain', async () =>
      (await running.stores.mysql.outbox.backlog()) + (await running.stores.postgres.outbox.backlog()) === 0,
    );
    const consumer = new Consumer({ ...baseClientOptions(config, 'test-count'), groupId: `count-${process.pid}-${Date.now()}` });
    const counts = new Map<string, number>();
    try {
      const stream = await consumer.consume({ topics: [config.KAFKA_TOPIC], mode: 'earliest' });
      let seen = 0;
      stream.on('data', (message) => {
        seen += 1;
        const key = message.key?.toString() ?? '';
        if (message.value && message.value.length) counts.set(key, (counts.get(key) ?? 0) + 1);
      });
      const end = Number(
        (await running.stores.postgres.apply.readOffsets(`${config.SINK_GROUP_PREFIX}-postgres`, config.KAFKA_TOPIC)).reduce(
          (sum, o) => sum + o.nextOffset,
          0n,
        ),
      );
      await waitFor('the whole topic', async () => seen >= end);
      await stream.close();
    } finally {
      await consumer.close(true);
    }
    assert.equal(counts.get(String(fromMysql.id)), 1, 'one event for the MySQL insert');
    assert.equal(counts.get(String(fromPostgres.id)), 1, 'one event for the PostgreSQL insert');
  });

  it('the same email created on both sides at once ends in a recorded conflict, and sync goes on', async () => {
    const running = started[0] ?? (await startWith('twoway_email', 'newer-wins')).running;
    const { mysql, postgres } = running.stores;
    await Promise.all([
      sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
          VALUES ('Twin', 'My', 'twin@example.fr', 'Dev', 1, 'Twin')`.execute(mysql.db),
      sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
          VALUES ('Twin', 'Pg', 'twin@example.fr', 'Dev', 2, 'Twin')`.execute(postgres.db),
    ]);
    await waitForConvergence(running.stores);
    const twins = (await mysql.employees.list({ department: 'Twin' })).filter((r) => r.email === 'twin@example.fr');
    assert.equal(twins.length, 1, 'one of the two rows keeps the email on both sides');
    const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM sync_conflicts WHERE kind = 'email'`.execute(mysql.db);
    const { rows: pgRows } = await sql<{ n: string }>`SELECT count(*) AS n FROM sync_conflicts WHERE kind = 'email'`.execute(postgres.db);
    assert.ok(Number(rows[0]!.n) + Number(pgRows[0]!.n) >= 1, 'the email conflict is recorded');
    const later = await mysql.employees.insert({
      nom: 'After', prenom: 'Twin', email: 'after.twin@example.fr', poste: 'Dev', salaire: '1.00', department: 'Twin',
    });
    await waitFor('a later change to flow', () => postgres.employees.find(later.id));
  });
});
