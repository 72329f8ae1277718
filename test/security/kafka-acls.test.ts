// Events from strangers (issue "Secure by default", item 6; docs/security.md): whoever may produce to the
// change topic writes into both databases. A private broker with the Compose broker's model (ACLs
// enforced, nothing allowed without one, SCRAM-SHA-512 principals) gets its principals and ACLs from
// deploy/kafka/acls.sh — the script the Compose `kafka-acls` service runs —; the pipeline runs with each
// role as its own principal, and every other principal, or a client without one, is refused the topic.
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Admin, Consumer, ListOffsetTimestamps, Producer } from '@platformatic/kafka';
import { sql } from 'kysely';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import type { Config } from '../../src/config.ts';
import { isEmpsyncError } from '../../src/errors.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { baseClientOptions, ensureTopics } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { setKafkaAcls, startBroker, stopBroker } from '../support/private-services.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const broker = { port: 19692, controllerPort: 19693, scram: { port: 19694, username: 'formatted', password: 'formatted-0123456789' }, acls: true };
const passwords = {
  'empsync-migrate': 'migrate-kafka-0123456789',
  'empsync-relay': 'relay-kafka-0123456789',
  'empsync-sink': 'sink-kafka-0123456789',
  'empsync-api': 'api-kafka-0123456789',
  'empsync-reconcile': 'reconcile-kafka-0123456789',
  monitoring: 'monitoring-kafka-0123456789',
} as const;
type Principal = keyof typeof passwords;

const base = testConfig('kafka_acls');
/** The test's config as `principal` over the SCRAM listener (null: no credentials at all). */
function as(principal: Principal | null, password?: string): Config {
  return testConfig('kafka_acls', {
    KAFKA_BROKERS: `127.0.0.1:${broker.scram.port}`,
    ...(principal ? { KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512', KAFKA_SASL_USERNAME: principal, KAFKA_SASL_PASSWORD: password ?? passwords[principal] } : {}),
  });
}

/** The end offsets of the change topic, read over the super-user listener. */
async function endOffsets(): Promise<string> {
  const admin = new Admin(baseClientOptions(testConfig('kafka_acls', { KAFKA_BROKERS: `127.0.0.1:${broker.port}` }), 'test-offsets'));
  try {
    const offsets = await admin.listOffsets({ topics: [{ name: base.KAFKA_TOPIC, partitions: [0, 1, 2].map((partitionIndex) => ({ partitionIndex, timestamp: ListOffsetTimestamps.LATEST })) }] });
    return JSON.stringify(offsets.flatMap((t) => t.partitions.map((p) => String(p.offset))));
  } finally {
    await admin.close();
  }
}

const started: RunningRole[] = [];
describe('Kafka principals and ACLs (deploy/kafka/acls.sh): only the relays may produce', () => {
  before(async () => {
    await dropTestDatabases(base);
    await startBroker({ ...broker, fresh: true });
    await setKafkaAcls(broker, {
      EMPSYNC_TOPICS: base.KAFKA_TOPIC,
      EMPSYNC_GROUP_PREFIX: base.SINK_GROUP_PREFIX,
      EMPSYNC_KAFKA_MIGRATE_PASSWORD: passwords['empsync-migrate'],
      EMPSYNC_KAFKA_RELAY_PASSWORD: passwords['empsync-relay'],
      EMPSYNC_KAFKA_SINK_PASSWORD: passwords['empsync-sink'],
      EMPSYNC_KAFKA_API_PASSWORD: passwords['empsync-api'],
      EMPSYNC_KAFKA_RECONCILE_PASSWORD: passwords['empsync-reconcile'],
      KAFKA_MONITORING_PASSWORD: passwords.monitoring,
    });
  });
  after(async () => {
    for (const running of started.reverse()) await running.stop();
    await stopBroker(broker);
    await dropTestDatabases(base);
  });

  it('runs the pipeline with each role as its own principal: migrate creates the topics, the relays produce, the sinks consume, the API and the drift check describe', async () => {
    const migrate = await startRole('migrate', { config: as('empsync-migrate'), logger: quietLogger(base) });
    await migrate.stop();
    const start = async (role: Parameters<typeof startRole>[0], principal: Principal, args: string[] = []) => {
      const config = as(principal);
      const running = await startRole(role, { config, logger: quietLogger(config), createGraphqlHandler }, args);
      started.push(running);
      return running;
    };
    await start('relay', 'empsync-relay', ['both']);
    const sinks = await start('sink', 'empsync-sink', ['both']);
    const api = await start('api', 'empsync-api');
    await start('reconcile', 'empsync-reconcile', ['--watch']);
    const { mysql, postgres } = sinks.stores;
    await mysql.employees.insert({ nom: 'Acl', prenom: 'My', email: 'acl.my@example.fr', poste: 'Dev', salaire: '1.00', department: 'K' });
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('Acl', 'Pg', 'acl.pg@example.fr', 'Dev', 1, 'K')`.execute(postgres.db);
    assert.equal(await waitForConvergence(sinks.stores, 60_000), 2);
    // The API's principal may describe: /readyz checks Kafka, syncStatus reads the sinks' lag and the DLQ's size.
    const { port } = api.server!.address() as AddressInfo;
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    const response = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ syncStatus { directions { source consumerLag } dlqMessages } }' }),
    });
    const body = (await response.json()) as { errors?: unknown; data?: { syncStatus: { directions: { consumerLag: number | null }[] } } };
    assert.equal(body.errors, undefined, JSON.stringify(body.errors));
    // …and its employeChanged subscriptions read the topic in groups of their own.
    const stream = await fetch(`http://127.0.0.1:${port}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ query: 'subscription { employeChanged { op employe { email } } }' }),
    });
    assert.equal(stream.status, 200);
    const reader = stream.body!.getReader();
    let text = '';
    const seen = (async () => {
      const decoder = new TextDecoder();
      while (!text.includes('acl.sse@example.fr')) {
        const { value, done } = await reader.read();
        if (done) return false;
        text += decoder.decode(value, { stream: true });
      }
      return true;
    })();
    await waitFor('the subscription to start reading', async () => {
      await mysql.employees.insert({ nom: 'Acl', prenom: 'Sse', email: `acl.sse.${Date.now()}@example.fr`, poste: 'Dev', salaire: '1.00', department: 'K' });
      return text.includes('acl.sse.');
    }, 30_000);
    await mysql.employees.insert({ nom: 'Acl', prenom: 'Sse', email: 'acl.sse@example.fr', poste: 'Dev', salaire: '1.00', department: 'K' });
    assert.ok(await Promise.race([seen, new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 30_000))]), 'the change arrived over SSE');
    await reader.cancel();
  });

  it('refuses to produce to the change topic to every principal but the relays, and to clients without credentials; nothing is written', async () => {
    const before = await endOffsets();
    const produce = async (config: Config) => {
      const producer = new Producer({ ...baseClientOptions(config, 'test-stranger'), retries: 0 });
      try {
        await producer.send({ messages: [{ topic: base.KAFKA_TOPIC, key: Buffer.from('1'), value: Buffer.from('{"forged":true}') }] });
      } finally {
        await producer.close().catch(() => undefined);
      }
    };
    for (const principal of ['empsync-sink', 'empsync-api', 'empsync-reconcile', 'empsync-migrate', 'monitoring'] as const) {
      await assert.rejects(produce(as(principal)), `${principal} may not produce to ${base.KAFKA_TOPIC}`);
    }
    await assert.rejects(produce(as(null)), 'a client without credentials is refused');
    await assert.rejects(produce(as('empsync-relay', 'wrong-password-0123')), 'a wrong password is refused');
    assert.equal(await endOffsets(), before, 'nothing reached the topic');
  });

  it("refuses the sinks' consumer groups to other principals, and topic creation to the roles", async () => {
    const consume = async (config: Config) => {
      const consumer = new Consumer({ ...baseClientOptions(config, 'test-stranger'), groupId: `${base.SINK_GROUP_PREFIX}-postgres`, retries: 0 });
      try {
        const stream = await consumer.consume({ topics: [base.KAFKA_TOPIC], mode: 'earliest' });
        await stream.close();
      } finally {
        await consumer.close(true).catch(() => undefined);
      }
    };
    for (const principal of ['empsync-relay', 'empsync-api', 'monitoring'] as const) {
      await assert.rejects(consume(as(principal)), `${principal} may not join the sinks' group`);
    }
    for (const principal of ['empsync-relay', 'empsync-sink', 'empsync-api'] as const) {
      await assert.rejects(ensureTopics(as(principal), [`${base.KAFKA_TOPIC}-new`]), (error) => isEmpsyncError(error, 'EMPSYNC_NOT_MIGRATED') && /empsync migrate/.test(error.message));
    }
  });
});
