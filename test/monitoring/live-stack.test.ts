// The monitoring of the local stack, live: the real `all` role, its own Kafka broker with the JMX
// exporter agent (scripts/kafka.sh on 19192), and a real Prometheus scraping both every second with the
// repository's alert rules. A workload runs; every panel query of every dashboard must then return data
// and no alert may be active; then things go wrong one after the other (a poison event, failing and slow
// GraphQL operations, a locked row in PostgreSQL, the PostgreSQL sink and relay stopped, the broker
// stopped with writes going on) and each alert must fire. Runs against its own broker so stopping it
// disturbs no other test.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { Producer } from '@platformatic/kafka';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import { databaseName } from '../../src/config.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import type { EmployeeFields } from '../../src/store/types.ts';
import { storeNames } from '../../src/store/types.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';
import { dashboardQueries } from './dashboard-queries.ts';
import { LocalPrometheus, type ActiveAlert, type Sample } from './local-prometheus.ts';

const run = promisify(execFile);
// 19504 = 19192 + 312, the exporter port scripts/kafka.sh derives by default; kept apart from the
// outage test's broker (19092, exporter 19404).
const jmxExporterPort = '19504';
const brokerEnv = {
  ...process.env,
  KAFKA_PORT: '19192',
  KAFKA_CONTROLLER_PORT: '19193',
  KAFKA_JMX_EXPORTER_PORT: jmxExporterPort,
  KAFKA_HEAP: '512m',
};
const broker = (...args: string[]) => run('bash', ['scripts/kafka.sh', ...args], { env: brokerEnv });
const config = testConfig('monitoring', {
  KAFKA_BROKERS: '127.0.0.1:19192',
  HTTP_PORT: '0',
  // Gauges computed at scrape time (backlog, DLQ size, departments) follow the 1 s scrapes.
  METRICS_REFRESH_MS: '1000',
});
// The sink's PostgreSQL sessions give up a row lock after 1 s (SQLSTATE 55P03, a transient error), so
// a row the test keeps locked makes the sink retry instead of wait: see 'a locked row' below.
const postgresLockTimeout = '1s';
const rateWindow = '1m';

/**
 * Queries that are empty on a healthy pipeline by design: they count what goes wrong. The healthy check
 * allows them to be empty; the last test requires them to have data once the trouble has happened.
 */
const emptyWhileHealthy = new Set([
  'empsync-api.json › Errors per operation › A',
  'empsync-pipeline.json › Skipped, dead-lettered, retried › B',
  'empsync-pipeline.json › Skipped, dead-lettered, retried › C',
  'empsync-pipeline.json › Conflicts › A',
  'empsync-pipeline.json › Kafka messages sent / received › C',
]);
/**
 * Queries allowed to stay empty for the whole local run. None: every Kafka panel reads the Kafka
 * exporter's metric (Compose) `or on ()` the broker's JMX exporter or empsync's own metric (local).
 */
const emptyLocally = new Set<string>();

let running: RunningRole;
let prometheus: LocalPrometheus;
let httpBase = '';
let startedAt = 0;
let serial = 0;

function employee(prefix: string, department: string): EmployeeFields {
  serial += 1;
  return {
    nom: `${prefix}${serial}`,
    prenom: 'Live',
    email: `${prefix.toLowerCase()}${serial}.${process.pid}@example.fr`,
    poste: 'Dev',
    salaire: '1000.00',
    department,
  };
}

async function gql(query: string, variables: Record<string, unknown> = {}) {
  const response = await fetch(`${httpBase}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'application/graphql-response+json, application/json',
    },
    body: JSON.stringify({ query, variables }),
  });
  return (await response.json()) as { data?: Record<string, unknown> | null; errors?: { message: string }[] };
}

function hasData(series: Sample[]): boolean {
  return series.some((sample) =>
    (sample.values ?? (sample.value ? [sample.value] : [])).some(([, value]) => !Number.isNaN(Number(value))),
  );
}

function hasNonZeroValue(sample: Sample): boolean {
  return (sample.values ?? []).some(([, value]) => Number(value) > 0);
}

function describeAlerts(alerts: ActiveAlert[]): string {
  return alerts
    .map((alert) => `${alert.labels['alertname']}${JSON.stringify(alert.labels)} ${alert.state}`)
    .join('\n');
}

/** Waits until `alertname` fires with `labels` among its labels. */
async function waitForAlert(alertname: string, labels: Record<string, string> = {}): Promise<ActiveAlert> {
  return waitFor(
    `${alertname} ${JSON.stringify(labels)} to fire`,
    async () =>
      (await prometheus.alerts()).find(
        (alert) =>
          alert.state === 'firing' &&
          alert.labels['alertname'] === alertname &&
          Object.entries(labels).every(([name, value]) => alert.labels[name] === value),
      ),
    30_000,
  ).catch(async (error: unknown) => {
    throw new Error(`${String(error)}\nactive alerts:\n${describeAlerts(await prometheus.alerts())}`);
  });
}

/** Waits until Prometheus' latest value of `query` reaches `atLeast`. */
async function waitForScraped(query: string, atLeast: number): Promise<void> {
  await waitFor(
    `${query} >= ${atLeast} in Prometheus`,
    async () => ((await prometheus.scalar(query)) ?? -1) >= atLeast,
  );
}

async function counterTotal(metric: { get(): Promise<{ values: { value: number }[] }> }): Promise<number> {
  return (await metric.get()).values.reduce((sum, { value }) => sum + value, 0);
}

/** The PostgreSQL test database, created before the role so its sessions get the lock timeout. */
async function createPostgresDatabaseWithLockTimeout(): Promise<void> {
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  try {
    const name = databaseName(config.POSTGRES_URL);
    await client.query(`CREATE DATABASE "${name}"`);
    await client.query(`ALTER DATABASE "${name}" SET lock_timeout = '${postgresLockTimeout}'`);
  } finally {
    await client.end();
  }
}

/** One round of writes on both sides (API-style and plain SQL) and of GraphQL operations. */
async function workload(): Promise<void> {
  const { mysql: mysqlStore, postgres: postgresStore } = running.stores;
  const departments = ['Ops', 'RH', 'Finance'];
  const fromMysql = [];
  for (let i = 0; i < 6; i++)
    fromMysql.push(await mysqlStore.employees.insert(employee('My', departments[i % 3]!)));
  const fromPostgres = [];
  for (let i = 0; i < 3; i++)
    fromPostgres.push(await postgresStore.employees.insert(employee('Pg', departments[i % 3]!)));
  await mysqlStore.employees.update(fromMysql[0]!.id, employee('MyUpd', 'Ops'));
  await postgresStore.employees.update(fromPostgres[0]!.id, employee('PgUpd', 'RH'));
  await mysqlStore.employees.delete(fromMysql[1]!.id);
  await postgresStore.employees.delete(fromPostgres[1]!.id);
  // Plain SQL on both sides: the triggers capture it like any API write.
  const mysqlClient = await mysql.createConnection({ uri: config.MYSQL_URL });
  try {
    await mysqlClient.query(
      "INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('Sql', 'My', ?, 'Dev', 10, 'Ops')",
      [employee('SqlMy', 'Ops').email],
    );
    await mysqlClient.query("UPDATE employes SET poste = 'Lead' WHERE id = ?", [fromMysql[2]!.id]);
  } finally {
    await mysqlClient.end();
  }
  const postgresClient = new pg.Client({ connectionString: config.POSTGRES_URL });
  await postgresClient.connect();
  try {
    await postgresClient.query(
      "INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('Sql', 'Pg', $1, 'Dev', 10, 'RH')",
      [employee('SqlPg', 'RH').email],
    );
    await postgresClient.query("UPDATE employes SET poste = 'Lead' WHERE id = $1", [fromPostgres[2]!.id]);
  } finally {
    await postgresClient.end();
  }
  // The GraphQL API: writes go to MySQL, reads to PostgreSQL; healthCheck sets empsync_dependency_up.
  const created = await gql('mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }', {
    input: { ...employee('Api', 'Ops'), salaire: 1200 },
  });
  assert.equal(created.errors, undefined, JSON.stringify(created.errors));
  const id = (created.data?.['createEmploye'] as { id: number }).id;
  await waitForConvergence(running.stores);
  for (const [query, variables] of [
    ['{ employes { id } }', {}],
    ['{ statsEmployes }', {}],
    ['{ employesParDepartment(department: "Ops") { id } }', {}],
    ['query ($id: Int!) { employeParId(id: $id) { id } }', { id }],
    [
      'mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { id } }',
      { id, input: { ...employee('ApiUpd', 'RH'), salaire: 1300 } },
    ],
    ['mutation { healthCheck }', {}],
  ] as const) {
    const answer = await gql(query, variables);
    assert.equal(answer.errors, undefined, `${query}: ${JSON.stringify(answer.errors)}`);
  }
  // /readyz is what sets empsync_dependency_up outside GraphQL (Compose's healthchecks call it).
  assert.equal((await fetch(`${httpBase}/readyz`)).status, 200);
  await waitForConvergence(running.stores);
}

/** Waits until Prometheus has scraped every event applied so far. */
async function waitForWorkloadScraped(): Promise<void> {
  await waitForScraped('sum(empsync_events_applied_total)', await counterTotal(running.metrics.applied));
  await waitForScraped('sum(employees_by_department)', await running.stores.postgres.employees.count());
}

/**
 * The latency alerts look at a p99 over 5 minutes, so on a loaded machine one slow operation among a
 * few makes them fire (in production their `for:` rides that out; here it is 0s). Such an alert is
 * accepted on the healthy pipeline only when empsync really recorded an observation above its
 * threshold: it then tells the truth. Returns that observation's description, or undefined.
 */
async function slowObservation(alert: ActiveAlert): Promise<string | undefined> {
  const { alertname, operation, store } = alert.labels;
  const [histogram, label, value, threshold] =
    alertname === 'EmpsyncApiLatencyHigh'
      ? [running.metrics.graphqlResponseTime, 'operation', operation, 0.5]
      : alertname === 'EmpsyncSyncLagHigh'
        ? [running.metrics.endToEndLag, 'store', store, 5]
        : [undefined, '', undefined, 0];
  if (!histogram || value === undefined) return undefined;
  const buckets = (await histogram.get()).values
    .map((sample) => ({ ...sample, labels: sample.labels as Record<string, unknown> }))
    .filter((sample) => sample.metricName?.endsWith('_bucket') && sample.labels[label] === value);
  const within = buckets.find((sample) => sample.labels['le'] === threshold)?.value ?? 0;
  const all = buckets.find((sample) => sample.labels['le'] === '+Inf')?.value ?? 0;
  return all > within ? `${all - within} of ${all} ${value} observations above ${threshold} s` : undefined;
}

describe('live monitoring of the local stack', () => {
  before(async () => {
    startedAt = Date.now();
    await broker('start', '--fresh');
    await dropTestDatabases(config);
    await createPostgresDatabaseWithLockTimeout();
    running = await startRole('all', { config, logger: quietLogger(config), createGraphqlHandler });
    httpBase = `http://127.0.0.1:${(running.server!.address() as AddressInfo).port}`;
    await waitFor(
      'both relay leases',
      async () => (await running.metrics.relayActive.get()).values.filter((v) => v.value === 1).length === 2,
      60_000,
    );
    // The first operation builds caches; it happens before Prometheus' first scrape, so no rate sees it.
    assert.match(String((await gql('mutation { healthCheck }')).data?.['healthCheck']), /kafka/i);
    prometheus = await LocalPrometheus.start({
      empsync: [httpBase.replace('http://', '')],
      'kafka-jmx': [`127.0.0.1:${jmxExporterPort}`],
    });
  });

  after(async () => {
    await running?.stop();
    await prometheus?.stop();
    await broker('stop');
  });

  it('scrapes empsync and the broker JMX exporter while a workload runs on both databases', async () => {
    // Two rounds with a scrape between them: a counter series is born with the value of its first
    // scrape, and only changes after that show in rate() (see the report on counters born non-zero).
    await workload();
    await waitForWorkloadScraped();
    await workload();
    await waitForWorkloadScraped();
    await waitForScraped('min(empsync_dependency_up)', 1);
    await waitForScraped('count(up == 1)', 3); // empsync, kafka-jmx, prometheus
    await waitForScraped('min(count_over_time(up[1m]))', 5); // every target scraped for a while
    await waitForScraped('sum(kafka_server_brokertopicmetrics_messagesin_total)', 1);
    await waitForScraped('count(empsync_consumer_lag)', 1);
  });

  it('every panel query of every dashboard returns data on the healthy pipeline', async () => {
    const queries = dashboardQueries(rateWindow);
    assert.ok(queries.length > 20, `${queries.length} queries`);
    const empty: string[] = [];
    for (const query of queries) {
      if (!hasData(await prometheus.query(query.expr))) empty.push(query.name);
    }
    const unexpected = empty.filter((name) => !emptyWhileHealthy.has(name) && !emptyLocally.has(name));
    assert.deepEqual(unexpected, [], `panel queries without data:\n${unexpected.join('\n')}`);
    // The Kafka dashboard's local source: the broker's JMX exporter counts the test topic's messages.
    const messagesIn = queries.find(
      (query) => query.name === 'empsync-kafka.json › Messages in per topic › A',
    )!;
    const topics = (await prometheus.query(messagesIn.expr)).map((sample) => sample.metric['topic']);
    assert.ok(topics.includes(config.KAFKA_TOPIC), `messages in per topic: ${topics.join(', ')}`);
  });

  it('no alert is pending or firing while the pipeline is healthy', async (t) => {
    await prometheus.waitForEvaluationAfter(Date.now() + 1000);
    for (const group of await prometheus.ruleGroups()) {
      for (const rule of group.rules)
        assert.equal(rule.health, 'ok', `${rule.name}: ${rule.lastError ?? ''}`);
    }
    const active = await prometheus.alerts();
    const unexplained = [];
    for (const alert of active) {
      const slow = await slowObservation(alert);
      if (slow) t.diagnostic(`${alert.labels['alertname']} fired on a slow machine, rightly: ${slow}`);
      else unexplained.push(alert);
    }
    assert.deepEqual(unexplained, [], describeAlerts(unexplained));
  });

  it('a poison event fires EmpsyncDlqNotEmpty', async () => {
    const producer = new Producer(baseClientOptions(config, 'test-poison'));
    try {
      await producer.send({
        messages: [
          { topic: config.KAFKA_TOPIC, key: Buffer.from('424242'), value: Buffer.from('{"not":"an event"') },
        ],
      });
    } finally {
      await producer.close();
    }
    await waitForAlert('EmpsyncDlqNotEmpty');
  });

  it('failing GraphQL operations fire EmpsyncApiErrorRate; a slow one fires EmpsyncApiLatencyHigh', async () => {
    // The first failure creates the series {success="false"}; the next ones are what rate() sees.
    const fail = async () => {
      const answer = await gql('mutation ($input: EmployeInput!) { createEmploye(input: $input) { id } }', {
        input: { ...employee('Bad', 'Ops'), email: 'not-an-email', salaire: 10 },
      });
      assert.ok(answer.errors?.length, 'bad input is refused');
    };
    await fail();
    await waitForScraped('sum(graphql_requests_total{success="false"})', 1);
    for (let i = 0; i < 5; i++) await fail();
    await waitForAlert('EmpsyncApiErrorRate');

    // A row locked in MySQL by another session holds updateEmploye for 1.2 s.
    const [target] = await running.stores.mysql.employees.list({});
    const locker = await mysql.createConnection({ uri: config.MYSQL_URL });
    try {
      await locker.beginTransaction();
      await locker.query('SELECT id FROM employes WHERE id = ? FOR UPDATE', [target!.id]);
      const slow = gql(
        'mutation ($id: Int!, $input: EmployeInput!) { updateEmploye(id: $id, input: $input) { id } }',
        {
          id: target!.id,
          input: { ...employee('Slow', 'Ops'), salaire: 10 },
        },
      );
      await sleep(1200); // how long the lock is held: the latency under test, not a wait for an effect
      await locker.commit();
      const answer = await slow;
      assert.equal(answer.errors, undefined, JSON.stringify(answer.errors));
    } finally {
      await locker.end();
    }
    await waitForAlert('EmpsyncApiLatencyHigh', { operation: 'updateEmploye' });
  });

  it('a locked row in PostgreSQL: the sink retries, the concurrent changes conflict, EmpsyncSyncLagHigh fires', async () => {
    // A PostgreSQL session changes five rows and keeps them locked; meanwhile MySQL changes the same rows.
    // The PostgreSQL sink cannot lock them (lock_timeout: a transient error, retried with backoff) until
    // the session commits 6 s later; then both sides hold concurrent versions: conflicts on both sinks,
    // and the MySQL changes reach PostgreSQL more than 5 s after their commit.
    const rows = (await running.stores.mysql.employees.list({})).filter((row) => row.id > 0).slice(0, 5);
    assert.equal(rows.length, 5);
    const retriesBefore = await counterTotal(running.metrics.sinkRetries);
    const locker = new pg.Client({ connectionString: config.POSTGRES_URL });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query("UPDATE employes SET poste = 'Verrou' WHERE id = ANY($1::int[])", [
        rows.map((row) => row.id),
      ]);
      for (const row of rows)
        await running.stores.mysql.employees.update(row.id, { ...row, poste: 'Concurrent' });
      await waitFor(
        'the PostgreSQL sink to retry',
        async () => (await counterTotal(running.metrics.sinkRetries)) > retriesBefore,
      );
      await sleep(6000); // how long the rows stay locked: the lag under test, not a wait for an effect
      await locker.query('COMMIT');
    } finally {
      await locker.end();
    }
    await waitForConvergence(running.stores);
    assert.ok((await counterTotal(running.metrics.conflicts)) > 0, 'conflicts are counted');
    await waitForAlert('EmpsyncSyncLagHigh', { store: 'postgres' });
  });

  it('the PostgreSQL sink and relay stopped: EmpsyncSinkDown and EmpsyncRelayDown fire', async () => {
    const postgresIndex = storeNames.indexOf('postgres');
    await running.sinks[postgresIndex]!.stop();
    await running.relays[postgresIndex]!.stop();
    await waitForAlert('EmpsyncSinkDown', { store: 'postgres' });
    await waitForAlert('EmpsyncRelayDown', { store: 'postgres' });
  });

  it('the broker stopped while writes go on: Kafka unreachable, its exporter down, the outbox growing', async () => {
    await broker('stop');
    // /readyz reuses a check for READYZ_CACHE_MS (1 s): the next check sees Kafka gone.
    await waitFor('/readyz to answer 503', async () => (await fetch(`${httpBase}/readyz`)).status === 503, 15_000);
    await waitForAlert('EmpsyncKafkaUnreachable');
    await waitForAlert('EmpsyncTargetDown', { job: 'kafka-jmx' });
    // 600 changes, then 600 more once Prometheus has seen the first ones: past 1000 and growing.
    const mysqlClient = await mysql.createConnection({ uri: config.MYSQL_URL });
    try {
      const bulkInsert = (from: number) =>
        mysqlClient.query(
          `INSERT INTO employes (nom, prenom, email, poste, salaire, department)
           SELECT CONCAT('Bulk', seq), 'Outage', CONCAT('bulk', seq, '.', ?, '@example.fr'), 'Dev', 10, 'Ops'
           FROM seq_${from}_to_${from + 599}`,
          [process.pid],
        );
      await bulkInsert(1);
      await waitForScraped('max(empsync_outbox_backlog{store="mysql"})', 600);
      await bulkInsert(601);
    } finally {
      await mysqlClient.end();
    }
    await waitForAlert('EmpsyncOutboxBacklogGrowing', { store: 'mysql' });
    await waitForScraped('sum(kafka_producer_errors_total)', 1);
  });

  it('every panel query of every dashboard has shown data over the run', async (t) => {
    // Range queries over the whole run, as Grafana asks a time-series panel.
    const end = Date.now() / 1000;
    const empty: string[] = [];
    for (const query of dashboardQueries(rateWindow)) {
      const series = await prometheus.queryRange(query.expr, startedAt / 1000, end);
      if (!hasData(series)) empty.push(query.name);
      else if (emptyWhileHealthy.has(query.name) && !series.some(hasNonZeroValue))
        t.diagnostic(
          `${query.name}: data, but never above 0 (a counter born non-zero: see docs/monitoring.md)`,
        );
    }
    const unexpected = empty.filter((name) => !emptyLocally.has(name));
    assert.deepEqual(unexpected, [], `panel queries that never had data:\n${unexpected.join('\n')}`);
  });
});
