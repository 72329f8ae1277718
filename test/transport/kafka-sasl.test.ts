// SASL/SCRAM to Kafka through the config (KAFKA_SASL_*): a private broker whose client listener
// requires SCRAM-SHA-256; the whole pipeline syncs through it with the right credentials, and a client
// without them, or with a wrong password, is refused.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { pingKafka } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { startBroker, stopBroker } from '../support/private-services.ts';
import { dropTestDatabases, quietLogger, testConfig } from '../support/test-env.ts';

const scram = { port: 19594, username: 'empsync', password: 'scram-secret-0123456789' };
const broker = { port: 19592, controllerPort: 19593, scram };
const sasl = {
  KAFKA_BROKERS: `127.0.0.1:${scram.port}`,
  KAFKA_SASL_MECHANISM: 'SCRAM-SHA-256',
  KAFKA_SASL_USERNAME: scram.username,
  KAFKA_SASL_PASSWORD: scram.password,
};
const config = testConfig('kafka_sasl', sasl);

describe('Kafka over SASL/SCRAM', () => {
  let running: RunningRole | undefined;
  before(async () => {
    await dropTestDatabases(config);
    await startBroker({ ...broker, fresh: true });
  });
  after(async () => {
    await running?.stop();
    await stopBroker(broker);
    await dropTestDatabases(config);
  });

  it('the pipeline syncs both ways through a listener that requires SCRAM-SHA-256', async () => {
    await pingKafka(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
    await running.stores.mysql.employees.insert({ nom: 'Sasl', prenom: 'Scram', email: 'sasl@example.fr', poste: 'Dev', salaire: '1.00', department: 'S' });
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department)
              VALUES ('Sasl', 'Pg', 'sasl.pg@example.fr', 'Dev', 1, 'S')`.execute(running.stores.postgres.db);
    assert.equal(await waitForConvergence(running.stores, 60_000), 2);
  });

  it('refuses a client without credentials, and one with a wrong password', async () => {
    await assert.rejects(pingKafka(testConfig('kafka_sasl', { KAFKA_BROKERS: sasl.KAFKA_BROKERS }), 3000));
    await assert.rejects(pingKafka(testConfig('kafka_sasl', { ...sasl, KAFKA_SASL_PASSWORD: 'wrong-password' }), 3000));
  });
});
