// Kafka stopped for 30 s while writes go on: the API side keeps committing (the outbox grows), and
// everything arrives once the broker is back. Runs against its own broker (port 19092) so stopping
// it disturbs no other test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const run = promisify(execFile);
const outageSeconds = Number(process.env.KAFKA_OUTAGE_SECONDS ?? 30);
const brokerEnv = { ...process.env, KAFKA_PORT: '19092', KAFKA_CONTROLLER_PORT: '19093', KAFKA_HEAP: '512m' };
const broker = (...args: string[]) => run('bash', ['scripts/kafka.sh', ...args], { env: brokerEnv });
const config = testConfig('outage', { KAFKA_BROKERS: '127.0.0.1:19092' });
let running: RunningRole;

describe('Kafka outage', () => {
  before(async () => {
    await broker('start', '--fresh');
    await dropTestDatabases(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
  });
  after(async () => {
    await running?.stop();
    await broker('stop');
  });

  it(`writes during a ${outageSeconds} s broker outage all arrive after it returns`, async () => {
    const { mysql } = running.stores;
    let n = 0;
    const write = () =>
      mysql.employees.insert({
        nom: `Outage${n}`, prenom: 'Test', email: `outage${n++}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'Ops',
      });
    for (let i = 0; i < 20; i++) await write();
    await waitForConvergence(running.stores);

    await broker('stop');
    const stopAt = Date.now() + outageSeconds * 1000;
    while (Date.now() < stopAt) {
      await write();
      await sleep(100); // paced writes during the outage (a workload, not a wait for an effect)
    }
    assert.ok((await mysql.outbox.backlog()) > 0, 'the outbox holds the backlog while Kafka is down');
    const written = n;

    await broker('start');
    const rows = await waitForConvergence(running.stores, 120_000);
    assert.equal(rows, written);
    await waitFor('the outbox to drain', async () => (await mysql.outbox.backlog()) === 0);
  });
});
