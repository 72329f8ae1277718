// Scale-out: several sinks in one consumer group share the partitions, and when one dies the others
// take its partitions over: nothing is lost, nothing is applied twice.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { freePort, RoleProcesses } from '../support/role-processes.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('scale_out', { KAFKA_PARTITIONS: '6' });
let base: RunningRole;
const roles = new RoleProcesses(config);
const spawnRole = (args: string[], port: number) => roles.spawn(args, { HTTP_PORT: String(port) });

/** Events this sink process consumed, read from its own /metrics. */
async function consumedBy(port: number): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const match = /^empsync_events_consumed_total\{store="postgres"\} (\d+)/m.exec(text);
  return Number(match?.[1] ?? 0);
}

async function insertRows(prefix: string, count: number): Promise<void> {
  for (let start = 0; start < count; start += 50) {
    const values = Array.from({ length: 50 }, (_, i) => sql`(${`S${start + i}`}, 'P', ${`${prefix}${start + i}@example.fr`}, 'Dev', 1, 'Scale')`);
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ${sql.join(values)}`.execute(base.stores.mysql.db);
  }
}

describe('scale-out of the sink', () => {
  before(async () => {
    await dropTestDatabases(config);
    base = await startRole('migrate', { config, logger: quietLogger(config) });
  });
  after(async () => {
    await roles.killAll();
    await base?.stop();
  });

  it('two sinks in one group share the partitions, and one takes over when the other dies', async () => {
    spawnRole(['relay', 'mysql'], await freePort());
    const ports = [await freePort(), await freePort()];
    const sinks = ports.map((port) => spawnRole(['sink', 'postgres'], port));
    await waitFor('both sinks to serve /metrics', async () => (await Promise.all(ports.map(consumedBy))).length === 2, 60_000);
    await insertRows('shared', 3000);
    await waitForConvergence(base.stores, 120_000);
    const consumed = await Promise.all(ports.map(consumedBy));
    assert.ok(consumed.every((n) => n > 0), `each sink consumed part of the topic: ${consumed.join(', ')}`);

    sinks[0]!.kill('SIGKILL');
    await once(sinks[0]!, 'exit');
    await insertRows('takeover', 3000);
    assert.equal(await waitForConvergence(base.stores, 120_000), 6000);
  });
});
