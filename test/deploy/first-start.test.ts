// The Compose stack starts on the first try on a clean machine and behaves like the local stack (issue
// #17). No Docker engine runs here, so each finding of the review is pinned by a static check of the
// files, and each check is shown to fail on a copy with its finding undone:
// 1. one image, built by one service (bake exports same-tag targets in parallel: `already exists`);
// 2. database health checked over TCP (the images' first-start servers answer on the socket only);
// 3. collations named on the MySQL server, database and every table (utf8mb4_bin, as locally);
// 4. the kafka-exporter checked on its cheap /healthz;
// 5. every required secret documented, and the settings read only on a fresh volume said so.
// MySQL 8.4's other differences are proven live in mysql-8.4-compat.test.ts, the bounded wait of
// migrate's first connections in first-connection-retry.test.ts.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mysqlTables, tableCollation } from '../../src/store/mysql/migrations.ts';
import {
  commandOptions,
  empsyncServices,
  healthcheckCommand,
  healthcheckOverTcpProblem,
  imagesBuiltTwice,
  loadCompose,
  markdownSection,
  readRepoFile,
  requiredVariables,
  type ComposeFile,
} from './deploy-files.ts';

const composeText = readRepoFile('docker-compose.yml');
const compose = loadCompose(composeText);
const dockerDoc = readRepoFile('docs', 'docker.md');

describe('1. the empsync image is built once', () => {
  it('only migrate builds it; every other role runs that image and never pulls it', () => {
    assert.deepEqual(imagesBuiltTwice(compose), []);
    const builders = Object.entries(compose.services).filter(([, service]) => service.build !== undefined);
    assert.deepEqual(
      builders.map(([name]) => name),
      ['migrate'],
    );
    const migrate = compose.services['migrate']!;
    assert.deepEqual(migrate.build, { context: '.', dockerfile: 'Dockerfile' });
    assert.equal(
      migrate.pull_policy,
      'build',
      'migrate builds the working tree, never pulls an `empsync` image',
    );
    const roles = empsyncServices(compose).filter(([name]) => name !== 'migrate');
    assert.deepEqual(roles.map(([name]) => name).sort(), [
      'api',
      'drift-check',
      'relay-mysql',
      'relay-postgres',
      'schema-keeper',
      'sink',
      'sink-mysql',
    ]);
    for (const [name, service] of roles) {
      assert.equal(service.image, migrate.image, `${name} runs migrate's image`);
      assert.equal(service.pull_policy, 'never', `${name} never pulls it (it is in no registry)`);
    }
  });

  it('the check bites: the review found `build:` in the shared x-empsync block, on all six roles', () => {
    const before = loadCompose(
      composeText.replace(
        'x-empsync: &empsync\n',
        'x-empsync: &empsync\n  build:\n    context: .\n    dockerfile: Dockerfile\n',
      ),
    );
    assert.deepEqual(imagesBuiltTwice(before), ['empsync:${EMPSYNC_VERSION:-0.1.0}']);
    const oneMore = loadCompose(composeText) as ComposeFile;
    oneMore.services['sink']!.build = { context: '.', dockerfile: 'Dockerfile' };
    assert.deepEqual(imagesBuiltTwice(oneMore), ['empsync:${EMPSYNC_VERSION:-0.1.0}']);
  });
});

describe('2. database health is checked over TCP', () => {
  it('mysqladmin and pg_isready connect to 127.0.0.1, as the empsync containers do', () => {
    assert.equal(healthcheckOverTcpProblem(compose.services['mysql']!, 'mysqladmin'), null);
    assert.equal(healthcheckOverTcpProblem(compose.services['postgres']!, 'pg_isready'), null);
  });

  it('the check bites: pg_isready without -h (the review found it) and mysqladmin on localhost (the socket)', () => {
    const socketPostgres = loadCompose(
      composeText.replace('pg_isready -h 127.0.0.1 -p 5432 ', 'pg_isready '),
    );
    assert.match(
      healthcheckOverTcpProblem(socketPostgres.services['postgres']!, 'pg_isready') ?? '',
      /127\.0\.0\.1/,
    );
    const socketMysql = loadCompose(
      composeText.replace('mysqladmin ping -h 127.0.0.1', 'mysqladmin ping -h localhost'),
    );
    assert.match(
      healthcheckOverTcpProblem(socketMysql.services['mysql']!, 'mysqladmin') ?? '',
      /127\.0\.0\.1/,
    );
    assert.match(
      healthcheckOverTcpProblem(compose.services['mysql']!, 'pg_isready') ?? '',
      /does not run pg_isready/,
    );
  });
});

/** Problems of the CREATE TABLE statements in a migrations source: each must end with the table options. */
function createTableProblems(source: string): string[] {
  const statements = [...source.matchAll(/CREATE TABLE IF NOT EXISTS (\w+) \(([\s\S]*?)`/g)];
  if (statements.length === 0) return ['no CREATE TABLE found'];
  return statements
    .filter(([, , body]) => !/\)\s*\$\{tableOptions\}$/.test(body!.trimEnd()))
    .map(([, table]) => `CREATE TABLE ${table} does not end with \${tableOptions} (charset and collation)`);
}

describe('3. MySQL collations are named, not inherited', () => {
  const migrations = readRepoFile('src', 'store', 'mysql', 'migrations.ts');

  it('the server, the database and every table use utf8mb4_bin, and PostgreSQL the local code-point order', () => {
    assert.equal(tableCollation, 'utf8mb4_bin');
    const server = commandOptions(compose.services['mysql']!);
    assert.equal(server.get('character-set-server'), 'utf8mb4');
    assert.equal(server.get('collation-server'), tableCollation);
    assert.match(
      migrations,
      /const tableOptions = `ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=\$\{tableCollation\}`;/,
    );
    assert.deepEqual(createTableProblems(migrations), []);
    const created = [...migrations.matchAll(/CREATE TABLE IF NOT EXISTS (\w+)/g)]
      .map((match) => match[1]!)
      .sort();
    assert.deepEqual(
      created,
      [...mysqlTables].sort(),
      'migration 003 converts exactly the tables the migrations create',
    );
    assert.match(
      readRepoFile('src', 'store', 'mysql', 'create-database.ts'),
      /CREATE DATABASE IF NOT EXISTS \\`\$\{name\}\\` CHARACTER SET utf8mb4 COLLATE \$\{tableCollation\}/,
    );
    const postgres = compose.services['postgres']!.environment as Record<string, string>;
    assert.match(postgres['POSTGRES_INITDB_ARGS'] ?? '', /--encoding=UTF8\b.*--locale=C\.UTF-8\b/);
  });

  it('docs/type-mapping.md says which comparison rules each engine applies to the synced text', () => {
    const rules = markdownSection(readRepoFile('docs', 'type-mapping.md'), 'Comparison rules');
    for (const term of [
      'MySQL 8.4',
      'MariaDB 10.11',
      'PostgreSQL',
      'utf8mb4_bin',
      'PAD SPACE',
      'trailing space',
      'utf8mb4_0900_ai_ci',
      'C.UTF-8',
    ]) {
      assert.ok(rules.includes(term), `the section names ${term}`);
    }
  });

  it('the check bites: a table without options, a server default left to MySQL, PostgreSQL in en_US', () => {
    const withoutOptions = migrations.replace(
      /(CREATE TABLE IF NOT EXISTS sync_offsets \([\s\S]*?\)) \$\{tableOptions\}`/,
      '$1 ENGINE=InnoDB`',
    );
    assert.deepEqual(createTableProblems(withoutOptions), [
      'CREATE TABLE sync_offsets does not end with ${tableOptions} (charset and collation)',
    ]);
    const serverDefault = loadCompose(
      composeText.replace("'--collation-server=utf8mb4_bin'", "'--collation-server=utf8mb4_0900_ai_ci'"),
    );
    assert.notEqual(commandOptions(serverDefault.services['mysql']!).get('collation-server'), tableCollation);
    const noCommand = loadCompose(composeText.replace(/^ {4}command: \['--character-set-server.*\n/m, ''));
    assert.equal(commandOptions(noCommand.services['mysql']!).get('collation-server'), undefined);
  });
});

describe('4. the kafka-exporter is checked on /healthz', () => {
  it('its healthcheck asks /healthz, which answers without querying Kafka, not /metrics', () => {
    assert.match(
      healthcheckCommand(compose.services['kafka-exporter']!),
      /http:\/\/127\.0\.0\.1:9308\/healthz$/,
    );
  });

  it('the check bites on /metrics', () => {
    const scraping = loadCompose(composeText.replace('127.0.0.1:9308/healthz', '127.0.0.1:9308/metrics'));
    assert.doesNotMatch(healthcheckCommand(scraping.services['kafka-exporter']!), /\/healthz$/);
  });
});

/**
 * Settings read only when their volume is empty: the image initialises its data once and ignores them
 * afterwards. [variable of .env, the container setting it feeds].
 */
const freshVolumeSettings: [string, string][] = [
  ['MYSQL_ROOT_PASSWORD', 'MYSQL_ROOT_PASSWORD'],
  ['POSTGRES_PASSWORD', 'POSTGRES_PASSWORD'],
  ['GRAFANA_ADMIN_PASSWORD', 'GF_SECURITY_ADMIN_PASSWORD'],
  ['KAFKA_CLUSTER_ID', 'CLUSTER_ID'],
];

/** Problems of the secrets section of docs/docker.md against the compose file. */
function secretsDocProblems(doc: string, composeSource: string): string[] {
  const section = markdownSection(doc, 'Secrets and first-start settings');
  if (!section) return ['docs/docker.md has no "## Secrets and first-start settings" section'];
  const rows = new Map(
    section
      .split('\n')
      .filter((line) => /^\|\s*`[A-Z0-9_]+`/.test(line))
      .map((line) => [/`([A-Z0-9_]+)`/.exec(line)![1]!, line]),
  );
  const problems: string[] = [];
  for (const variable of requiredVariables(composeSource)) {
    const row = rows.get(variable);
    if (!row) problems.push(`${variable} (required by docker-compose.yml) has no row`);
    else if (!/\|\s*required\s*\|/.test(row)) problems.push(`${variable}'s row does not say it is required`);
  }
  for (const [variable, setting] of freshVolumeSettings) {
    const row = rows.get(variable);
    if (!row || !row.includes('fresh volume') || !row.includes(`\`${setting}\``)) {
      problems.push(`${variable}'s row does not say that \`${setting}\` is read on a fresh volume only`);
    }
  }
  return problems;
}

describe('5. every required secret is documented, and what only a fresh volume reads', () => {
  it('docs/docker.md has a row per required variable and names the fresh-volume-only settings', () => {
    assert.deepEqual(requiredVariables(composeText), [
      'EMPSYNC_API_KEYS',
      'EMPSYNC_DB_API_PASSWORD',
      'EMPSYNC_DB_RECONCILE_PASSWORD',
      'EMPSYNC_DB_RELAY_PASSWORD',
      'EMPSYNC_DB_SINK_PASSWORD',
      'EMPSYNC_KAFKA_API_PASSWORD',
      'EMPSYNC_KAFKA_MIGRATE_PASSWORD',
      'EMPSYNC_KAFKA_RECONCILE_PASSWORD',
      'EMPSYNC_KAFKA_RELAY_PASSWORD',
      'EMPSYNC_KAFKA_SINK_PASSWORD',
      'GRAFANA_ADMIN_PASSWORD',
      'KAFKA_MONITORING_PASSWORD',
      'MYSQL_ROOT_PASSWORD',
      'POSTGRES_PASSWORD',
    ]);
    assert.deepEqual(secretsDocProblems(dockerDoc, composeText), []);
    for (const [variable, setting] of freshVolumeSettings) {
      assert.ok(
        composeText.includes(`${setting}: \${${variable}`),
        `docker-compose.yml feeds ${setting} from ${variable}`,
      );
    }
  });

  it('the check bites: the docs before the review omitted EMPSYNC_API_KEYS and the fresh-volume rule', () => {
    const withoutApiKeys = dockerDoc.replace(/^\|\s*`EMPSYNC_API_KEYS`.*\n/m, '');
    assert.deepEqual(secretsDocProblems(withoutApiKeys, composeText), [
      'EMPSYNC_API_KEYS (required by docker-compose.yml) has no row',
    ]);
    const withoutRule = dockerDoc.replace(/^(\|\s*`KAFKA_CLUSTER_ID`.*)fresh volume/m, '$1next start');
    assert.deepEqual(secretsDocProblems(withoutRule, composeText), [
      "KAFKA_CLUSTER_ID's row does not say that `CLUSTER_ID` is read on a fresh volume only",
    ]);
    const newSecret = `${composeText}\nx-extra: \${NEW_SECRET:?set it in .env}\n`;
    assert.deepEqual(secretsDocProblems(dockerDoc, newSecret), [
      'NEW_SECRET (required by docker-compose.yml) has no row',
    ]);
  });
});

describe('the README and docs/docker.md say plainly that the stack was checked, never run', () => {
  it('both state it', () => {
    const readme = markdownSection(readRepoFile('README.md'), 'Docker Compose');
    assert.match(readme, /\*\*Not run here:\*\* this machine has no Docker engine/);
    assert.match(readme, /no image was built and no container started/);
    assert.match(dockerDoc, /\*\*Status: checked, never run here\.\*\*/);
  });
});
