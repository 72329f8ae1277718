// Waking the PostgreSQL relay (migration 003 and PostgresRelayLease.waitForWork), against the real
// PostgreSQL: writers NOTIFY only while the relay says it sleeps, the relay says so once it has found
// the outbox empty for a while, and a plain SQL write then wakes it at once, long before its poll.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { createStores, ensureDatabases, type Stores } from '../../../src/store/create-stores.ts';
import { outboxChannel } from '../../../src/store/postgres/migrations.ts';
import type { RelayLease } from '../../../src/store/ports.ts';
import { dropTestDatabases, testConfig, waitFor } from '../../support/test-env.ts';

const config = testConfig('store_relay_wakeup');
let stores: Stores;
let lease: RelayLease;
let writer: pg.Client;
let inserted = 0;

const waiting = async () =>
  (await writer.query<{ waiting: boolean }>('SELECT waiting FROM sync_relay_wakeup')).rows[0]?.waiting;

/** Awaits `promise`, failing with `message` if it takes longer than `ms`. */
async function within(promise: Promise<unknown>, ms: number, message: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise((_, reject) => (timer = setTimeout(() => reject(new Error(message)), ms)));
  await Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

/** A change as any SQL client makes it (captured by the triggers, so it may NOTIFY). */
async function insertBySql(): Promise<void> {
  inserted += 1;
  await writer.query(
    `INSERT INTO employes (nom, prenom, email, poste, salaire, department)
     VALUES ('Réveil', 'Test', $1, 'Dev', 1000, 'IT')`,
    [`wakeup${inserted}@example.fr`],
  );
}

describe('PostgreSQL relay wake-up', () => {
  before(async () => {
    await dropTestDatabases(config);
    await ensureDatabases(config);
    stores = createStores(config);
    await stores.postgres.migrate();
    writer = new pg.Client({ connectionString: config.POSTGRES_URL });
    await writer.connect();
    const acquired = await stores.postgres.outbox.acquireLease();
    assert.ok(acquired, 'the relay lease is free');
    lease = acquired;
  });
  after(async () => {
    await lease?.release();
    await writer?.end();
    await stores?.postgres.close();
    await stores?.mysql.close();
    await dropTestDatabases(config);
  });

  it('a relay that has just taken the lease is busy: writers do not notify it', async () => {
    assert.equal(await waiting(), false);
  });

  it('after empty polls the relay says it sleeps, and a plain SQL insert wakes it long before its poll', async () => {
    await lease.waitForWork(1);
    assert.equal(await waiting(), false, 'one short empty poll does not announce a sleep');
    await lease.waitForWork(8);
    assert.equal(await waiting(), true);
    const started = Date.now();
    const sleep = lease.waitForWork(120_000);
    await insertBySql();
    await within(sleep, 20_000, 'the NOTIFY did not wake the relay within 20 s');
    assert.ok(Date.now() - started < 20_000);
    await waitFor(
      'the woken relay to tell writers it is busy',
      async () => (await waiting()) === false,
      10_000,
    );
  });

  it('writers notify only while the relay sleeps (one NOTIFY for two inserts, the second one)', async () => {
    const listener = new pg.Client({ connectionString: config.POSTGRES_URL });
    await listener.connect();
    let notifications = 0;
    listener.on('notification', () => (notifications += 1));
    try {
      await listener.query(`LISTEN ${outboxChannel}`);
      assert.equal(await waiting(), false);
      await insertBySql(); // the relay is busy: no NOTIFY
      await lease.waitForWork(8); // it announces its sleep
      await insertBySql(); // this one notifies
      await waitFor('the second insert to notify', async () => notifications > 0, 10_000);
      // Notifications reach a listener in commit order: one from the first insert would have come first.
      await listener.query('SELECT 1');
      assert.equal(notifications, 1);
    } finally {
      await listener.end();
    }
  });

  it('a relay asleep when its session dies wakes at once and sees the lease lost', async () => {
    let lost = false;
    void lease.lost.then(() => (lost = true));
    const sleep = lease.waitForWork(120_000);
    const { rows } = await writer.query<{ pid: number }>(
      `SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
    );
    assert.equal(rows.length, 1, 'the lease holds one advisory lock');
    await writer.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await within(sleep, 20_000, 'the relay slept on after losing its session');
    assert.equal(lost, true);
  });
});
