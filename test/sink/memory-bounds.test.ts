// A sink's batches are bounded in bytes, not only in events (issue "Performance": memory): a sink that
// comes back to a backlog of 1,500 large events with SINK_MAX_BATCH_BYTES=64 KiB applies them in batches
// that each fit the bound — never the 2,000 events SINK_MAX_BATCH allows — and ends with both stores equal.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const maxBytes = 64 * 1024;
const config = testConfig('sink_memory_bounds', { SINK_MAX_BATCH: '2000', SINK_MAX_BATCH_BYTES: String(maxBytes) });
const deps = { config, logger: quietLogger(config) };

describe('sink memory bounded in bytes', () => {
  let relay: RunningRole;
  let sink: RunningRole | null = null;
  before(async () => {
    await dropTestDatabases(config);
    relay = await startRole('relay', deps, ['mysql']);
  });
  after(async () => {
    await sink?.stop();
    await relay.stop();
  });

  it('applies a backlog in batches that each fit SINK_MAX_BATCH_BYTES', async () => {
    const { mysql } = relay.stores;
    // About 1 KB per event: every text column at its 100 characters.
    const poste = 'P'.repeat(100);
    const long = 'L'.repeat(96);
    for (let chunk = 0; chunk < 15; chunk++) {
      await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                SELECT CONCAT(${long}, seq), ${long}, CONCAT('bytes.', ${chunk}, '.', seq, '@example.fr'), ${poste}, 1, ${long}
                  FROM seq_1_to_100`.execute(mysql.db).catch(async () => {
        // Not MariaDB's sequence engine (MySQL): one row at a time.
        for (let i = 1; i <= 100; i++) {
          await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
                    VALUES (${`${long}${i}`}, ${long}, ${`bytes.${chunk}.${i}@example.fr`}, ${poste}, 1, ${long})`.execute(mysql.db);
        }
      });
    }
    await waitFor('the relay published the backlog', async () => (await mysql.outbox.backlog()) === 0, 60_000);
    sink = await startRole('sink', deps, ['postgres']);
    assert.equal(await waitForConvergence({ mysql, postgres: sink.stores.postgres }, 120_000), 1500);
    const histogram = await sink.metrics.sinkBatchSize.get();
    const count = histogram.values.find((v) => v.metricName === 'empsync_sink_batch_size_count')?.value ?? 0;
    const sum = histogram.values.find((v) => v.metricName === 'empsync_sink_batch_size_sum')?.value ?? 0;
    const upTo100 = histogram.values.find((v) => v.metricName === 'empsync_sink_batch_size_bucket' && (v.labels as Record<string, unknown>)['le'] === 100)?.value ?? 0;
    assert.equal(sum, 1500, 'every event applied once');
    // 64 KiB holds at most ~65 events of ~1 KB: every batch is in the bucket of 100 or less.
    assert.equal(upTo100, count, `every batch fits the byte bound (${count} batches)`);
    assert.ok(count >= 1500 / 100, `the backlog took at least ${1500 / 100} batches, not one or two (${count})`);
  });
});
