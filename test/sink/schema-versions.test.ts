// A rolling schema change seen from a sink: events written with the previous schema (a column fewer)
// and with the next one (a column this side does not have, or has not yet) arrive on the topic while the
// sink runs. Each is applied — the columns it holds that the table syncs here — and none is parked.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { Producer } from '@platformatic/kafka';
import { sql } from 'kysely';
import { listDeadLetters } from '../../src/roles/dead-letters.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { encodeEnvelope } from '../../src/transport/envelope.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('schema_versions', { SCHEMA_CHECK_INTERVAL_MS: '200' });
let running: RunningRole;
let producer: Producer;

const at = '2026-01-02T03:04:05.123456Z';
const values = (email: string) => ({
  nom: 'Versions', prenom: 'P', email, poste: 'Dev', salaire: '10.00', department: 'V',
  date_embauche: at, created_at: at, updated_at: at,
});

/** Publishes one event as the PostgreSQL relay of another empsync would (origin postgres, negative id). */
async function publish(id: number, version: bigint, rowValues: Record<string, string | null>, schemaVersion: string, baseVersion = 0n) {
  const change = {
    seq: 0n, eventId: randomUUID(), table: 'employes', op: baseVersion === 0n ? ('c' as const) : ('u' as const), baseVersion, capturedAt: at,
    row: { id, version, origin: 'postgres' as const, values: rowValues },
  };
  await producer.send({ messages: [{ topic: config.KAFKA_TOPIC, key: Buffer.from(String(id)), value: encodeEnvelope(change, schemaVersion) }] });
}

describe('a sink during a rolling schema change', () => {
  before(async () => {
    await dropTestDatabases(config);
    running = await startRole('sink', { config, logger: quietLogger(config) }, ['mysql']);
    producer = new Producer(baseClientOptions(config, 'test-schema-versions'));
  });
  after(async () => {
    await producer?.close();
    await running?.stop();
  });

  it('applies an event of the next schema: the column it has here is written, one it lacks is left out, nothing parked', async () => {
    await sql`ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone VARCHAR(30) NULL`.execute(running.stores.mysql.db);
    await sql`ALTER TABLE employes ADD COLUMN IF NOT EXISTS telephone varchar(30)`.execute(running.stores.postgres.db);
    await waitFor('the column synced', async () => running.schemas.schema('employes').columns.some((c) => c.name === 'telephone'));
    // `fax` exists on the writer's side only (this side never had it): its value cannot be written here.
    await publish(-101, 1_000n, { ...values('next@versions.test'), telephone: '+33 1', fax: '+33 2' }, 'next-version');
    await waitFor('the row in MySQL', () => running.stores.mysql.employees.find(-101));
    const { rows } = await sql<{ telephone: string }>`SELECT telephone FROM employes WHERE id = -101`.execute(running.stores.mysql.db);
    assert.equal(rows[0]?.telephone, '+33 1');
    assert.deepEqual(await listDeadLetters(running.stores), []);
  });

  it('applies an event of the previous schema: a column it does not hold keeps its value', async () => {
    await publish(-102, 2_000n, { ...values('previous@versions.test'), telephone: '+33 9' }, 'current');
    await waitFor('the row in MySQL', () => running.stores.mysql.employees.find(-102));
    // Written before the column existed on the writer's side: no telephone in it at all.
    await publish(-102, 3_000n, { ...values('previous@versions.test'), poste: 'Lead' }, 'previous-version', 2_000n);
    await waitFor('the update in MySQL', async () => (await running.stores.mysql.employees.find(-102))?.poste === 'Lead');
    const { rows } = await sql<{ telephone: string }>`SELECT telephone FROM employes WHERE id = -102`.execute(running.stores.mysql.db);
    assert.equal(rows[0]?.telephone, '+33 9', 'the column the event did not hold kept its value');
    assert.deepEqual(await listDeadLetters(running.stores), []);
  });
});
