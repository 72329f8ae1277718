// `empsync status` against a real `api` role (started here, in this process) as an operator runs it:
// the overview as aligned text or raw JSON; exit 0 while healthy, 1 with the reason once an event is
// parked, the drift check finds rows or the API is down or refuses the credential, 2 on bad usage.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { createGraphqlHandler } from '../../src/api/graphql-handler.ts';
import type { Config } from '../../src/config.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import {
  formatStatus,
  parseStatusArguments,
  statusCredential,
  unhealthyReasons,
  type SyncOverview,
} from '../../src/roles/status.ts';
import { freePort } from '../support/role-processes.ts';
import { dropTestDatabases, quietLogger, testConfig, waitFor } from '../support/test-env.ts';

const readerKey = 'status-reader-key-0123';
const adminKey = 'status-admin-key-01234';
const config = testConfig('roles_status');
const withAuth = testConfig('roles_status', { AUTH_API_KEYS: `${adminKey}:admin,${readerKey}:reader` });

/** `empsync status …` as a child process, with only `env` as its credentials. */
async function status(args: string[], env: Record<string, string> = {}) {
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => name !== 'EMPSYNC_TOKEN' && name !== 'AUTH_API_KEYS'),
  );
  const child = spawn('node_modules/.bin/node', ['src/main.ts', 'status', ...args], {
    env: { ...inherited, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = (await once(child, 'exit')) as [number];
  return { code, stdout, stderr };
}

/**
 * The whole pipeline (`all`: relays and sinks, since a sync without them is not healthy), without the
 * start-up backfill or a drift check of its own (the drift passes below are recorded by hand), once both
 * relays hold their lease and both sinks consume.
 */
async function startApi(roleConfig: Config): Promise<{ running: RunningRole; url: string }> {
  const config = { ...roleConfig, BACKFILL_ON_START: false, DRIFT_CHECK_INTERVAL_MS: 0 };
  const running = await startRole('all', { config, logger: quietLogger(config), createGraphqlHandler });
  await waitFor('both relays and both sinks running', async () => {
    const [relays, sinks] = await Promise.all([running.metrics.relayActive.get(), running.metrics.sinkUp.get()]);
    return relays.values.filter((v) => v.value === 1).length === 2 && sinks.values.filter((v) => v.value === 1).length >= 2;
  });
  return { running, url: `http://127.0.0.1:${(running.server!.address() as AddressInfo).port}/graphql` };
}

describe('empsync status', () => {
  describe('without a database', () => {
    it('parses --url and --json, defaults to this config’s port on the loopback, and refuses the rest', () => {
      const local = { HTTP_HOST: '0.0.0.0', HTTP_PORT: 8000 };
      assert.deepEqual(parseStatusArguments([], local), {
        url: 'http://127.0.0.1:8000/graphql',
        json: false,
      });
      assert.deepEqual(parseStatusArguments(['--json', '--url', 'https://api.example/graphql'], local), {
        url: 'https://api.example/graphql',
        json: true,
      });
      assert.deepEqual(
        parseStatusArguments(['--url=http://h:1/graphql'], { HTTP_HOST: '10.0.0.5', HTTP_PORT: 8000 }),
        { url: 'http://h:1/graphql', json: false },
      );
      assert.equal(
        parseStatusArguments([], { HTTP_HOST: '::1', HTTP_PORT: 9 })?.url,
        'http://[::1]:9/graphql',
      );
      for (const args of [
        ['--url'],
        ['--url', 'ftp://x/graphql'],
        ['--url', 'not a url'],
        ['--verbose'],
        ['extra'],
      ]) {
        assert.equal(parseStatusArguments(args, local), null, args.join(' '));
      }
      assert.equal(
        parseStatusArguments([], { ...local, HTTP_PORT: 0 }),
        null,
        'HTTP_PORT=0 names no port: --url is needed',
      );
    });

    it('sends EMPSYNC_TOKEN, else the lowest-role key of AUTH_API_KEYS, else nothing', () => {
      const keys = [
        { key: 'admin-key', role: 'admin' as const },
        { key: 'reader-key', role: 'reader' as const },
        { key: 'writer-key', role: 'writer' as const },
      ];
      assert.equal(statusCredential({ AUTH_API_KEYS: keys }), 'reader-key');
      assert.equal(statusCredential({ AUTH_API_KEYS: keys, EMPSYNC_TOKEN: 'a.jwt.token' }), 'a.jwt.token');
      assert.equal(statusCredential({}), undefined);
    });

    it('names every reason: not ready, degraded, parked events, drift rows, a failed drift check', () => {
      const overview: SyncOverview = {
        directions: [
          {
            direction: 'mysql->postgres',
            outboxBacklog: 3,
            parkedAtRelay: 2,
            parkedAtSink: 0,
            consumerLag: 0,
            lastAppliedAt: null,
            endToEndLagP50Seconds: 0.012,
            endToEndLagP99Seconds: 0.3,
            endToEndLagSamples: 40,
            relayLeaseHolder: 'connection 12',
            sinkGroupMembers: [],
          },
          {
            direction: 'postgres->mysql',
            outboxBacklog: 0,
            parkedAtRelay: 0,
            parkedAtSink: 1,
            consumerLag: null,
            lastAppliedAt: null,
            endToEndLagP50Seconds: null,
            endToEndLagP99Seconds: null,
            endToEndLagSamples: 0,
            relayLeaseHolder: null,
            sinkGroupMembers: null,
          },
        ],
        dlqMessages: 1,
        drift: {
          rows: 3,
          lastCompletePassAt: '2026-01-01T00:00:00.000Z',
          lastError: 'EMPSYNC_DEPENDENCY_UNAVAILABLE: MySQL is down',
          tables: [
            { table: 'employes', rows: 3 },
            { table: 'projets', rows: 0 },
          ],
        },
        snapshots: [
          { source: 'mysql', table: 'employes', done: false, published: 10, total: 40, etaSeconds: 2.5 },
        ],
      };
      const notReady = {
        status: 'unavailable',
        ready: false,
        dependencies: {
          mysql: { up: false, error: 'ECONNREFUSED' },
          postgres: { up: true },
          kafka: { up: true },
        },
      };
      const reasons = unhealthyReasons(notReady, { data: { syncStatus: overview } });
      assert.deepEqual(reasons, [
        'API not ready: mysql down (ECONNREFUSED)',
        'mysql->postgres: 2 changes parked at the mysql relay (empsync dlq list)',
        'postgres->mysql: 1 event parked at the mysql sink (empsync dlq list)',
        'mysql->postgres: no sink consumes for postgres (its consumer group has no member)',
        'postgres->mysql: no relay runs for postgres (its captured changes wait in its outbox)',
        'drift: 3 rows differ between the stores at the last pass (employes: 3; empsync reconcile)',
        'drift check failed: EMPSYNC_DEPENDENCY_UNAVAILABLE: MySQL is down',
      ]);
      assert.deepEqual(
        unhealthyReasons(
          {
            status: 'degraded',
            ready: true,
            schema: [{ table: 'employes', column: 'badge', reason: 'no portable type' }],
          },
          null,
        ),
        ['API degraded: columns left out of sync: employes.badge (no portable type)'],
      );
      const text = formatStatus({
        url: 'http://h/graphql',
        readiness: notReady,
        body: { data: { syncStatus: overview } },
        reasons,
      });
      assert.match(text, /^ {2}end-to-end lag {6}p50 0\.012 s {2}p99 0\.300 s {2}\(40 events\)$/m);
      assert.match(text, /^ {2}mysql employes {6}running {2}10\/40 rows {2}ETA 3 s$/m);
      assert.match(text, /^unhealthy:\n {2}- API not ready/m);
      assert.doesNotMatch(text, / +$/m, 'no trailing blanks');
    });

    it('exits 2 with the usage on bad arguments', async () => {
      const refused = await status(['--url']);
      assert.equal(refused.code, 2);
      assert.match(refused.stderr, /usage: empsync status \[--url <graphql url>\] \[--json\]/);
    });

    it('exits 1 when nothing answers at the URL', async () => {
      const url = `http://127.0.0.1:${await freePort()}/graphql`;
      const down = await status(['--url', url]);
      assert.equal(down.code, 1, down.stdout);
      assert.match(down.stdout, /^ {2}API {17}unreachable$/m);
      assert.match(down.stdout, new RegExp(`^ {2}- API unreachable at ${url}: ECONNREFUSED$`, 'm'));
      const json = await status(['--url', url, '--json']);
      assert.equal(json.code, 1);
      assert.equal(json.stdout, '', 'no JSON without an answer');
      assert.match(json.stderr, /empsync status: API unreachable/);
    });
  });

  describe('against a running api role', () => {
    let api: { running: RunningRole; url: string } | undefined;
    before(async () => {
      await dropTestDatabases(config);
      api = await startApi(config);
    });
    after(async () => {
      await api?.running.stop();
      await dropTestDatabases(config);
    });

    it('healthy: prints both directions, the DLQ, drift and snapshots, and exits 0; --json prints the GraphQL answer', async () => {
      await api!.running.stores.postgres.reconcile.recordDrift({
        tables: [{ table: 'employes', rows: 0 }],
        lastPassAt: '2026-01-01T10:00:00.000Z',
        passSeconds: 0.5,
        intervalMs: 300_000,
      });
      const healthy = await status(['--url', api!.url]);
      assert.equal(healthy.code, 0, healthy.stdout);
      const blocks = healthy.stdout
        .trim()
        .split('\n\n')
        .map((b) => b.split('\n')[0]);
      assert.deepEqual(blocks, [
        `empsync status  ${api!.url}`,
        'mysql -> postgres',
        'postgres -> mysql',
        'DLQ topic',
        'drift',
        'snapshots',
        'healthy',
      ]);
      assert.match(healthy.stdout, /^ {2}API {17}ready$/m);
      assert.match(
        healthy.stdout,
        /^mysql -> postgres\n {2}outbox backlog {6}0\n {2}parked at relay {5}0\n {2}parked at sink {6}0\n/m,
      );
      assert.match(healthy.stdout, /^ {2}last complete pass {2}2026-01-01T10:00:00\.000000Z$/m);

      const json = await status(['--url', api!.url, '--json']);
      assert.equal(json.code, 0, json.stderr);
      const body = JSON.parse(json.stdout) as { data: { syncStatus: SyncOverview } };
      assert.deepEqual(
        body.data.syncStatus.directions.map((d) => d.direction),
        ['mysql->postgres', 'postgres->mysql'],
      );
      assert.deepEqual(body.data.syncStatus.drift?.tables, [{ table: 'employes', rows: 0 }]);
    });

    it('a parked event, drift rows: exits 1 naming each', async () => {
      // An event the PostgreSQL sink parked (its message is not an event at all), as test/main.test.ts parks one.
      const { postgres } = api!.running.stores;
      await sql`INSERT INTO sync_dead_letters (stage, source_key, source, code, reason, payload, payload_encoding)
                VALUES ('sink', 't:0:7@c/t', '{"topic":"t","partition":"0","offset":"7","key":"","timestamp":"0","headers":"{}"}',
                        'EMPSYNC_EVENT_INVALID', 'event is not JSON', '{garbage', 'utf8')`.execute(
        postgres.db,
      );
      const parked = await status(['--url', api!.url]);
      assert.equal(parked.code, 1, parked.stdout);
      assert.match(parked.stdout, /^ {2}parked at sink {6}1$/m);
      assert.match(
        parked.stdout,
        /^unhealthy:\n {2}- mysql->postgres: 1 event parked at the postgres sink \(empsync dlq list\)$/m,
      );

      await postgres.reconcile.recordDrift({
        tables: [{ table: 'employes', rows: 2 }],
        lastPassAt: new Date().toISOString(),
        passSeconds: 0.5,
        intervalMs: 300_000,
      });
      const drifted = await status(['--url', api!.url, '--json']);
      assert.equal(drifted.code, 1);
      assert.equal(
        (JSON.parse(drifted.stdout) as { data: { syncStatus: SyncOverview } }).data.syncStatus.drift?.rows,
        2,
        'stdout stays the raw JSON',
      );
      assert.deepEqual(drifted.stderr.trim().split('\n'), [
        'empsync status: mysql->postgres: 1 event parked at the postgres sink (empsync dlq list)',
        'empsync status: drift: 2 rows differ between the stores at the last pass (employes: 2; empsync reconcile)',
      ]);
      await sql`DELETE FROM sync_dead_letters`.execute(postgres.db);
      await postgres.reconcile.recordDrift({
        tables: [{ table: 'employes', rows: 0 }],
        lastPassAt: new Date().toISOString(),
        passSeconds: 0.5,
        intervalMs: 300_000,
      });
      assert.equal((await status(['--url', api!.url])).code, 0, 'healthy again once both are gone');
    });

    it('shows who holds each relay lease and who consumes; with the relays stopped, exits 1 naming both', async () => {
      const running = await status(['--url', api!.url]);
      assert.match(running.stdout, /^mysql -> postgres\n(?: {2}.*\n)*? {2}relay lease {9}connection \d+/m);
      assert.match(running.stdout, /^postgres -> mysql\n(?: {2}.*\n)*? {2}relay lease {9}empsync relay .* pid \d+/m);
      assert.match(running.stdout, /^ {2}sink members {8}\S+@\S+ \(3 partitions\)$/m);
      await Promise.all(api!.running.relays.map((relay) => relay.stop()));
      const stopped = await status(['--url', api!.url]);
      assert.equal(stopped.code, 1, stopped.stdout);
      assert.match(stopped.stdout, /^ {2}relay lease {9}nobody$/m);
      assert.match(stopped.stdout, /- mysql->postgres: no relay runs for mysql \(its captured changes wait in its outbox\)/);
      assert.match(stopped.stdout, /- postgres->mysql: no relay runs for postgres/);
    });

    it('with authentication on: sends the reader key of AUTH_API_KEYS or EMPSYNC_TOKEN; without one, exits 1 naming UNAUTHENTICATED', async () => {
      await api!.running.stop();
      api = await startApi(withAuth);
      const anonymous = await status(['--url', api.url]);
      assert.equal(anonymous.code, 1);
      assert.match(
        anonymous.stdout,
        /- GraphQL error UNAUTHENTICATED: syncStatus needs the role reader.*set EMPSYNC_TOKEN/,
      );
      const fromKeys = await status(['--url', api.url], {
        AUTH_API_KEYS: `${adminKey}:admin,${readerKey}:reader`,
      });
      assert.equal(fromKeys.code, 0, fromKeys.stdout);
      assert.match(fromKeys.stdout, /^postgres -> mysql$/m);
      const fromToken = await status(['--url', api.url], { EMPSYNC_TOKEN: readerKey });
      assert.equal(fromToken.code, 0, fromToken.stdout);
      const wrong = await status(['--url', api.url], { EMPSYNC_TOKEN: 'not-a-key-of-this-api' });
      assert.equal(wrong.code, 1);
      assert.match(wrong.stdout, /GraphQL error UNAUTHENTICATED/);
    });

    it('API down: exits 1, API unreachable', async () => {
      const { url } = api!;
      await api!.running.stop();
      api = undefined;
      const down = await status(['--url', url]);
      assert.equal(down.code, 1);
      assert.match(down.stdout, /- API unreachable at .*: ECONNREFUSED/);
    });
  });
});
