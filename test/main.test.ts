// The command line: a bad config value or a missing dependency gives one clear line, not a stack trace;
// reconcile prints its report and says in its exit code whether the stores differ; dlq lists and
// replays parked events, and says in its exit code whether a replay still fails.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, describe, it } from 'node:test';
import pg from 'pg';
import { startRole } from '../src/roles/roles.ts';
import { dropTestDatabases, quietLogger, testConfig } from './support/test-env.ts';

async function run(args: string[], env: Record<string, string>) {
  const child = spawn('node_modules/.bin/node', ['src/main.ts', ...args], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  let stdout = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number, stderr, stdout };
}

describe('empsync command line', () => {
  it('names the bad variable and exits 2', async () => {
    const { code, stderr } = await run(['migrate'], { HTTP_PORT: 'eighty' });
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1);
    assert.match(stderr, /invalid HTTP_PORT/);
  });

  it('explains an unreachable Kafka in one line and exits 1', async () => {
    const config = testConfig('cli');
    await dropTestDatabases(config); // a database some other version migrated would fail first
    const { code, stderr } = await run(['migrate'], {
      KAFKA_BROKERS: '127.0.0.1:1',
      MYSQL_URL: config.MYSQL_URL,
      POSTGRES_URL: config.POSTGRES_URL,
    });
    await dropTestDatabases(config);
    assert.equal(code, 1);
    assert.match(stderr, /EMPSYNC_DEPENDENCY_UNAVAILABLE: Kafka is unreachable at 127\.0\.0\.1:1/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  it('rejects an unknown role with the usage', async () => {
    const { code, stderr } = await run(['dance'], {});
    assert.equal(code, 2);
    assert.match(stderr, /usage: empsync <role>/);
  });

  describe('reconcile', () => {
    const config = testConfig('cli_reconcile');
    const env = {
      MYSQL_URL: config.MYSQL_URL,
      POSTGRES_URL: config.POSTGRES_URL,
      KAFKA_TOPIC: config.KAFKA_TOPIC,
      KAFKA_DLQ_TOPIC: config.KAFKA_DLQ_TOPIC,
    };
    after(() => dropTestDatabases(config));

    it('prints its report and exits 3 while rows differ, 0 once repaired', async () => {
      await dropTestDatabases(config);
      assert.equal((await run(['migrate'], env)).code, 0);
      // A row written as the sink writes (not captured): PostgreSQL holds it, MySQL does not.
      const client = new pg.Client({ connectionString: config.POSTGRES_URL });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('app.sync_origin', 'sink', true)`);
        await client.query(
          `INSERT INTO employes (id, nom, prenom, email, poste, salaire, department, sync_version, sync_origin)
           VALUES (-5, 'Seule', 'Ligne', 'seule@example.fr', 'Dev', 10, 'R', 1700000000000000, 'postgres')`,
        );
        await client.query('COMMIT');
      } finally {
        await client.end();
      }

      const found = await run(['reconcile'], env);
      assert.equal(found.code, 3, found.stderr);
      const report = JSON.parse(found.stdout) as { postgresOnly: number; divergent: number; republished: number };
      assert.deepEqual([report.divergent, report.postgresOnly, report.republished], [1, 1, 0]);

      // Nothing carries the repair (no relay, no sink runs): the verification says so, exit 3.
      const stuck = await run(['reconcile', '--repair'], { ...env, REPAIR_VERIFY_TIMEOUT_MS: '1000' });
      assert.equal(stuck.code, 3, stuck.stderr);
      assert.deepEqual(
        (({ republished, unrepaired }) => [republished, unrepaired])(JSON.parse(stuck.stdout) as { republished: number; unrepaired: number }),
        [1, 1],
      );

      // With the pipeline running, a repair converges and verifies: exit 0.
      const pipeline = await startRole('all', { config, logger: quietLogger(config) });
      try {
        const repaired = await run(['reconcile', '--repair'], env);
        assert.equal(repaired.code, 0, repaired.stderr);
        assert.equal((JSON.parse(repaired.stdout) as { unrepaired: number }).unrepaired, 0);
        const again = await run(['reconcile'], env);
        assert.equal(again.code, 0, again.stdout);
      } finally {
        await pipeline.stop();
      }
    });

    it('refuses an unknown flag with the usage', async () => {
      const { code, stderr } = await run(['reconcile', '--fix'], env);
      assert.equal(code, 1, stderr);
      assert.match(stderr, /usage: empsync reconcile \[--repair\] \[--watch\]/);
    });
  });

  describe('dlq', () => {
    const config = testConfig('cli_dlq');
    const env = {
      MYSQL_URL: config.MYSQL_URL,
      POSTGRES_URL: config.POSTGRES_URL,
      KAFKA_TOPIC: config.KAFKA_TOPIC,
      KAFKA_DLQ_TOPIC: config.KAFKA_DLQ_TOPIC,
    };
    after(() => dropTestDatabases(config));

    it('lists parked events as JSON, replays them by id (exit 3 while one still fails), and explains bad arguments', async () => {
      await dropTestDatabases(config);
      assert.equal((await run(['migrate'], env)).code, 0);
      // An event the PostgreSQL sink parked: its message is not an event at all.
      const client = new pg.Client({ connectionString: config.POSTGRES_URL });
      await client.connect();
      try {
        await client.query(
          `INSERT INTO sync_dead_letters (stage, source_key, source, code, reason, payload, payload_encoding)
           VALUES ('sink', 't:0:7@c/t', '{"topic":"t","partition":"0","offset":"7","key":"","timestamp":"0","headers":"{}"}',
                   'EMPSYNC_EVENT_INVALID', 'event is not JSON', '{garbage', 'utf8')`,
        );
      } finally {
        await client.end();
      }
      const listed = await run(['dlq', 'list'], env);
      assert.equal(listed.code, 0, listed.stderr);
      const [letter] = JSON.parse(listed.stdout) as { store: string; id: string; reason: string; firstSeenAt: string; status: string }[];
      assert.deepEqual([letter?.store, letter?.reason, letter?.status], ['postgres', 'event is not JSON', 'parked']);
      assert.match(letter?.firstSeenAt ?? '', /^\d{4}-\d{2}-\d{2}T/);

      const replayed = await run(['dlq', 'replay', '--id', `postgres:${letter!.id}`], env);
      assert.equal(replayed.code, 3, 'the message is still not an event: it stays parked');
      assert.deepEqual((JSON.parse(replayed.stdout) as { outcome: string }[]).map((r) => r.outcome), ['failed']);
      assert.equal((JSON.parse((await run(['dlq', 'list'], env)).stdout) as unknown[]).length, 1);

      const unknown = await run(['dlq', 'replay', '--id', 'mysql:999'], env);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /NOT_FOUND: no dead letter mysql:999/);
      const usage = await run(['dlq', 'replay'], env);
      assert.equal(usage.code, 1);
      assert.match(usage.stderr, /usage: empsync dlq list \[--all\]/);
    });
  });
});
