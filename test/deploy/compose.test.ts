// docker-compose.yml is never run on the development machines (no Docker engine), so it is checked
// here: against the Compose Specification schema, and against the repository it deploys (config
// variables of src/config.ts, mounted files, the Prometheus scrape targets).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Ajv } from 'ajv';
import addFormats from 'ajv-formats';
import { parse } from 'yaml';
import { configSchema } from '../../src/config.ts';
import {
  bindMountSources,
  builtImages,
  dependsOnConditions,
  empsyncServices,
  environmentKeys,
  isPinnedImage,
  loadCompose,
  missingMountSources,
  namedVolumeSources,
  publishedPorts,
  readRepoFile,
  requiredVariables,
  type ComposeFile,
} from './deploy-files.ts';

const composeText = readRepoFile('docker-compose.yml');
const compose = loadCompose(composeText);

const empsyncCommands: Record<string, string[]> = {
  migrate: ['migrate'],
  api: ['api'],
  'relay-mysql': ['relay', 'mysql'],
  'relay-postgres': ['relay', 'postgres'],
  sink: ['sink', 'postgres'],
  'sink-mysql': ['sink', 'mysql'],
  'drift-check': ['reconcile', '--watch'],
  'schema-keeper': ['migrate', '--watch'],
};
/** Who each empsync service is: its database users (MySQL/PostgreSQL) and its Kafka principal. */
const accounts: Record<string, { database: string; kafka: string }> = {
  migrate: { database: 'root/postgres', kafka: 'empsync-migrate' },
  'schema-keeper': { database: 'root/postgres', kafka: 'empsync-migrate' },
  api: { database: 'empsync_api', kafka: 'empsync-api' },
  'relay-mysql': { database: 'empsync_relay', kafka: 'empsync-relay' },
  'relay-postgres': { database: 'empsync_relay', kafka: 'empsync-relay' },
  sink: { database: 'empsync_sink', kafka: 'empsync-sink' },
  'sink-mysql': { database: 'empsync_sink', kafka: 'empsync-sink' },
  'drift-check': { database: 'empsync_reconcile', kafka: 'empsync-reconcile' },
};

/** Services that run once and exit: what depends on them waits for their success. */
const oneShot = ['migrate', 'kafka-acls'];
const infrastructure = ['mysql', 'postgres', 'kafka', 'kafka-exporter', 'kafka-ui', 'prometheus', 'grafana'];

function validator() {
  const schema = JSON.parse(readRepoFile('deploy', 'compose-spec.schema.json')) as Record<string, unknown>;
  // The vendored file names draft-07 by its https URL; ajv knows draft-07 (its default) by the http one.
  assert.equal(schema['$schema'], 'https://json-schema.org/draft-07/schema');
  delete schema['$schema'];
  const ajv = new Ajv({ allErrors: true, strict: false });
  addFormats.default(ajv);
  return ajv.compile(schema);
}

describe('docker-compose.yml', () => {
  it('is valid against the Compose Specification schema', () => {
    const validate = validator();
    const valid = validate(compose);
    assert.ok(valid, `schema errors:\n${JSON.stringify(validate.errors, null, 2)}`);
  });

  it('the schema check bites: an unknown service key and a bad depends_on condition are rejected', () => {
    const validate = validator();
    const broken = loadCompose(composeText);
    (broken.services['api'] as Record<string, unknown>)['imagee'] = 'typo';
    assert.equal(validate(broken), false);
    const badCondition = loadCompose(composeText);
    badCondition.services['api']!.depends_on = { mysql: { condition: 'service_ready' } };
    assert.equal(validate(badCondition), false);
  });

  it('has every required service, and the empsync roles run the right commands', () => {
    for (const name of [...infrastructure, ...Object.keys(empsyncCommands)]) {
      assert.ok(compose.services[name], `service ${name} is missing`);
    }
    assert.deepEqual(
      empsyncServices(compose)
        .map(([name]) => name)
        .sort(),
      Object.keys(empsyncCommands).sort(),
      'the services built from the Dockerfile',
    );
    for (const [name, command] of Object.entries(empsyncCommands)) {
      assert.deepEqual(compose.services[name]!.command, command, `${name} command`);
    }
  });

  it('pins every image to a release tag', () => {
    const built = builtImages(compose);
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build !== undefined || built.has(service.image ?? '')) continue;
      assert.ok(service.image, `${name} has an image`);
      assert.ok(
        isPinnedImage(service.image),
        `${name}: image ${service.image} is not pinned to a release tag`,
      );
    }
    for (const [image, pinned] of [
      ['mysql:8.4.7', true],
      ['ghcr.io/kafbat/kafka-ui:v1.3.0', true],
      ['localhost:5000/app:1.2', true],
      ['mysql', false],
      ['mysql:latest', false],
      ['grafana/grafana:main', false],
      ['localhost:5000/app', false],
      [`postgres@sha256:${'a'.repeat(64)}`, true],
    ] as const) {
      assert.equal(isPinnedImage(image), pinned, image);
    }
  });

  it('mounts only files and folders that exist in the repository', () => {
    const sources = Object.values(compose.services).flatMap(bindMountSources);
    for (const expected of [
      './monitoring/prometheus/prometheus.compose.yml',
      './monitoring/prometheus/alerts.yml',
      './monitoring/grafana/provisioning',
      './monitoring/grafana/dashboards',
    ]) {
      assert.ok(sources.includes(expected), `${expected} is mounted`);
    }
    assert.deepEqual(missingMountSources(compose), []);
    const renamed = loadCompose(
      composeText.replace('./monitoring/prometheus/alerts.yml', './monitoring/prometheus/alert-rules.yml'),
    );
    assert.deepEqual(
      missingMountSources(renamed),
      ['./monitoring/prometheus/alert-rules.yml'],
      'the check finds a missing file',
    );
  });

  it('gives the empsync services only variables that src/config.ts reads', () => {
    const known = new Set(Object.keys(configSchema.shape));
    for (const [name, service] of empsyncServices(compose)) {
      const keys = environmentKeys(service);
      for (const required of [
        'MYSQL_URL',
        'POSTGRES_URL',
        'KAFKA_BROKERS',
        'KAFKA_PARTITIONS',
        'HTTP_HOST',
        'HTTP_PORT',
        'NODE_ENV',
      ]) {
        assert.ok(keys.includes(required), `${name} sets ${required}`);
      }
      // NODE_OPTIONS is Node's own (the workers' heap bounds), not empsync's config.
      const unknown = keys.filter((key) => !known.has(key) && key !== 'NODE_OPTIONS');
      assert.deepEqual(unknown, [], `${name} sets variables that configSchema does not declare`);
    }
    assert.equal(known.has('KAFKA_BROKER'), false, 'a misspelt variable would be caught');
  });

  it('runs the relays and sinks under a bounded heap, with sink batches bounded in bytes', () => {
    const services = compose.services as Record<string, { command?: string[]; environment?: Record<string, unknown> }>;
    const workers = Object.entries(services).filter(([, service]) => ['relay', 'sink'].includes(service.command?.[0] ?? ''));
    assert.ok(workers.length >= 4, 'two relays and two sinks');
    for (const [name, service] of workers) {
      const options = String(service.environment?.NODE_OPTIONS ?? '');
      assert.match(options, /--max-old-space-size=\d+/, `${name} bounds its heap`);
      assert.match(options, /--max-semi-space-size=\d+/, `${name} bounds its young generation`);
      if (service.command?.[0] === 'sink') assert.ok(Number(service.environment?.SINK_MAX_BATCH_BYTES) > 0, `${name} bounds its batches in bytes`);
    }
  });

  it('lets the api read the sinks\' figures from Prometheus, on a network they share', () => {
    const services = compose.services as Record<string, { environment?: Record<string, unknown>; networks?: string[] }>;
    const url = new URL(String(services['api']?.environment?.['PROMETHEUS_URL']));
    assert.equal(url.hostname, 'prometheus', 'the prometheus service');
    const shared = (services['api']?.networks ?? []).filter((n) => (services['prometheus']?.networks ?? []).includes(n));
    assert.ok(shared.length > 0, 'api and prometheus share a network');
  });

  it('gives each empsync variable a value that configSchema accepts', () => {
    const composeEnvExample = new Map(
      [...readRepoFile('deploy', 'compose.env.example').matchAll(/^([A-Z0-9_]+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!.trim()]),
    );
    for (const [name, service] of empsyncServices(compose)) {
      const environment = Object.fromEntries(
        Object.entries(service.environment as Record<string, string | number>).map(([key, value]) => [
          key,
          // Compose interpolation: ${VAR:?msg} → the value of deploy/compose.env.example (else a sample),
          // ${VAR:-default} → the default.
          String(value)
            .replace(/\$\{([A-Z0-9_]+):\?[^}]*\}/g, (_, name: string) => composeEnvExample.get(name) ?? 'secret')
            .replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1'),
        ]),
      );
      const parsed = configSchema.safeParse(environment);
      assert.ok(parsed.success, `${name}: ${parsed.success ? '' : JSON.stringify(parsed.error.issues)}`);
      assert.equal(parsed.data.HTTP_HOST, '0.0.0.0', `${name} listens on every interface of its container`);
      assert.deepEqual(parsed.data.KAFKA_BROKERS, ['kafka:9092']);
      assert.match(String(environment['MYSQL_URL']), /@mysql:3306\/entreprise$/);
      assert.match(String(environment['POSTGRES_URL']), /@postgres:5432\/entreprise$/);
    }
  });

  it('publishes GraphQL on 8000 (the port the API listens on) and the UIs on their usual ports', () => {
    const apiEnvironment = compose.services['api']!.environment as Record<string, unknown>;
    assert.deepEqual(publishedPorts(compose.services['api']!), [
      { host: '8000', container: String(apiEnvironment['HTTP_PORT']) },
    ]);
    assert.equal(String(apiEnvironment['HTTP_PORT']), '8000');
    assert.deepEqual(publishedPorts(compose.services['grafana']!), [{ host: '3000', container: '3000' }]);
    assert.deepEqual(publishedPorts(compose.services['prometheus']!), [{ host: '9090', container: '9090' }]);
    assert.deepEqual(publishedPorts(compose.services['kafka-ui']!), [{ host: '8080', container: '8080' }]);
  });

  it('keeps Kafka, the databases, Prometheus and Kafka UI off the network (host loopback only); Kafka UI read-only; no Prometheus lifecycle API', () => {
    for (const name of ['mysql', 'postgres', 'kafka', 'kafka-ui', 'prometheus']) {
      for (const port of compose.services[name]!.ports ?? []) {
        assert.match(String(port), /^127\.0\.0\.1:/, `${name} publishes ${String(port)} beyond the host's loopback`);
      }
    }
    const ui = compose.services['kafka-ui']!.environment as Record<string, unknown>;
    assert.equal(String(ui['KAFKA_CLUSTERS_0_READONLY']), 'true');
    const prometheus = (compose.services['prometheus']!.command ?? []) as string[];
    assert.ok(!prometheus.includes('--web.enable-lifecycle'), 'the lifecycle API (reload, quit over HTTP) stays off');
  });

  it('connects each runtime role as its own database user; only migrate and schema-keeper as the owners, and migrate creates the users', () => {
    const userOf = (url: unknown) => new URL(String(url).replace(/\$\{[^}]*\}/g, 'secret')).username;
    for (const [name, service] of empsyncServices(compose)) {
      const environment = service.environment as Record<string, string>;
      const users = `${userOf(environment['MYSQL_URL'])}/${userOf(environment['POSTGRES_URL'])}`;
      const { database } = accounts[name]!;
      const want = database.includes('/') ? database : `${database}/${database}`;
      assert.equal(users, want, `${name} connects as ${want}`);
      assert.equal('DB_ROLE_PASSWORDS' in environment, name === 'migrate', `${name}: only migrate creates the role users`);
    }
    const passwords = String((compose.services['migrate']!.environment as Record<string, string>)['DB_ROLE_PASSWORDS']);
    for (const role of ['api', 'relay', 'sink', 'reconcile']) {
      const variable = `EMPSYNC_DB_${role.toUpperCase()}_PASSWORD`;
      assert.ok(passwords.includes(`${role}:\${${variable}:?`), `migrate sets ${role}'s password from ${variable}`);
    }
  });

  it('gives each role its own Kafka principal, enforces ACLs, and keeps PLAINTEXT on the broker\'s loopback', () => {
    for (const [name, service] of empsyncServices(compose)) {
      const environment = service.environment as Record<string, string>;
      assert.equal(environment['KAFKA_SASL_MECHANISM'], 'SCRAM-SHA-512', `${name} authenticates to Kafka`);
      assert.equal(environment['KAFKA_SASL_USERNAME'], accounts[name]!.kafka, `${name} is ${accounts[name]!.kafka}`);
      assert.equal(dependsOnConditions(service)['kafka-acls'], 'service_completed_successfully', `${name} waits for the ACLs`);
    }
    const kafka = compose.services['kafka']!.environment as Record<string, string>;
    assert.equal(kafka['KAFKA_AUTHORIZER_CLASS_NAME'], 'org.apache.kafka.metadata.authorizer.StandardAuthorizer');
    assert.equal(String(kafka['KAFKA_ALLOW_EVERYONE_IF_NO_ACL_FOUND']), 'false');
    const protocols = Object.fromEntries(String(kafka['KAFKA_LISTENER_SECURITY_PROTOCOL_MAP']).split(',').map((pair) => pair.split(':')));
    for (const listener of String(kafka['KAFKA_LISTENERS']).split(',')) {
      const [, name, host] = /^(\w+):\/\/([^:]*):\d+$/.exec(listener)!;
      if (protocols[name!] === 'PLAINTEXT') assert.equal(host, '127.0.0.1', `${name} (PLAINTEXT, super user) listens on the broker's loopback only`);
      else assert.equal(protocols[name!], 'SASL_PLAINTEXT', `${name} requires SASL`);
    }
    const acls = compose.services['kafka-acls']!;
    assert.equal((acls as Record<string, unknown>)['network_mode'], 'service:kafka');
    assert.ok((acls.volumes ?? []).some((v) => String(v).startsWith('./deploy/kafka/acls.sh:')), 'runs deploy/kafka/acls.sh (tested in test/security/kafka-acls.test.ts)');
    assert.ok((compose.services['kafka-exporter']!.command as string[]).includes('--sasl.username=monitoring'));
    assert.match(String((compose.services['kafka-ui']!.environment as Record<string, string>)['KAFKA_CLUSTERS_0_PROPERTIES_SASL_JAAS_CONFIG']), /username="monitoring"/);
  });

  it('lets the sink scale: no container_name and no host port on any empsync worker', () => {
    for (const name of ['sink', 'sink-mysql', 'relay-mysql', 'relay-postgres']) {
      assert.equal(compose.services[name]!.container_name, undefined, `${name} container_name`);
      assert.equal(compose.services[name]!.ports, undefined, `${name} ports`);
    }
    for (const service of Object.values(compose.services)) assert.equal(service.container_name, undefined);
  });

  it('declares the named volumes and networks it uses', () => {
    const volumes = Object.keys(compose.volumes ?? {});
    for (const name of ['mysql_data', 'postgres_data', 'prometheus_data', 'grafana_data'])
      assert.ok(volumes.includes(name), `volume ${name}`);
    for (const [name, service] of Object.entries(compose.services)) {
      for (const volume of namedVolumeSources(service))
        assert.ok(volumes.includes(volume), `${name} uses undeclared volume ${volume}`);
      const networks = Array.isArray(service.networks)
        ? service.networks
        : Object.keys(service.networks ?? {});
      for (const network of networks)
        assert.ok(
          Object.keys(compose.networks ?? {}).includes(network),
          `${name} uses undeclared network ${network}`,
        );
    }
    assert.ok(Object.keys(compose.networks ?? {}).includes('monitoring'));
    for (const name of ['prometheus', 'grafana', 'kafka-exporter', 'api', 'sink']) {
      assert.ok(
        (compose.services[name]!.networks as string[]).includes('monitoring'),
        `${name} is on the monitoring network`,
      );
    }
  });

  it('has a healthcheck on every long-running service and waits on health, not on start', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (oneShot.includes(name)) {
        assert.equal(service.restart, 'no', `${name} runs once`);
      } else {
        assert.ok(service.healthcheck?.test && !service.healthcheck.disable, `${name} has a healthcheck`);
      }
      for (const [dependency, condition] of Object.entries(dependsOnConditions(service))) {
        assert.ok(compose.services[dependency], `${name} depends on unknown service ${dependency}`);
        const expected = oneShot.includes(dependency) ? 'service_completed_successfully' : 'service_healthy';
        assert.equal(condition, expected, `${name} → ${dependency}`);
      }
    }
    for (const name of Object.keys(empsyncCommands).filter((name) => name !== 'migrate')) {
      assert.equal(
        dependsOnConditions(compose.services[name]!)['migrate'],
        'service_completed_successfully',
        `${name} waits for migrate`,
      );
    }
  });

  it('runs Kafka as a single KRaft node with every replication factor at 1', () => {
    const environment = compose.services['kafka']!.environment as Record<string, unknown>;
    assert.equal(environment['KAFKA_PROCESS_ROLES'], 'broker,controller');
    for (const key of [
      'KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR',
      'KAFKA_TRANSACTION_STATE_LOG_MIN_ISR',
      'KAFKA_DEFAULT_REPLICATION_FACTOR',
    ]) {
      assert.equal(environment[key], 1, key);
    }
    assert.match(
      String(environment['CLUSTER_ID']),
      /[A-Za-z0-9_-]{22}\}?$/,
      'CLUSTER_ID is a base64url UUID',
    );
    assert.ok(
      !Object.keys(compose.services).some((name) => name.includes('zookeeper')),
      'Kafka 4 has no ZooKeeper',
    );
  });

  it('takes every secret from .env, and deploy/compose.env.example names them all', () => {
    assert.ok(composeText.includes('GF_SECURITY_ADMIN_PASSWORD: ${GRAFANA_ADMIN_PASSWORD:?set it in .env}'));
    const required = requiredVariables(composeText);
    const optional = new Set([...composeText.matchAll(/\$\{([A-Z0-9_]+):-/g)].map((match) => match[1]!));
    assert.deepEqual(required, [
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
    const example = readRepoFile('deploy', 'compose.env.example');
    const documented = new Set([...example.matchAll(/^#?\s*([A-Z0-9_]+)=/gm)].map((match) => match[1]!));
    for (const name of [...required, ...optional])
      assert.ok(documented.has(name), `deploy/compose.env.example documents ${name}`);
    assert.doesNotMatch(
      composeText,
      /^\s*[A-Z_]*PASSWORD:\s*(?!\$\{)\S/m,
      'no password literal in docker-compose.yml',
    );
  });

  it('is scraped by prometheus.compose.yml under the service names it declares', () => {
    type ScrapeConfig = {
      job_name: string;
      dns_sd_configs?: { names: string[]; port: number }[];
      static_configs?: { targets: string[] }[];
    };
    const prometheus = parse(readRepoFile('monitoring', 'prometheus', 'prometheus.compose.yml')) as {
      scrape_configs: ScrapeConfig[];
    };
    const empsyncJob = prometheus.scrape_configs.find((config) => config.job_name === 'empsync');
    assert.ok(empsyncJob?.dns_sd_configs, 'job empsync discovers the services by DNS');
    const scraped = empsyncJob.dns_sd_configs.flatMap((config) => config.names).sort();
    const serving = empsyncServices(compose as ComposeFile)
      .map(([name]) => name)
      .filter((name) => name !== 'migrate')
      .sort();
    assert.deepEqual(scraped, serving);
    for (const config of empsyncJob.dns_sd_configs) assert.equal(config.port, 8000);
    const staticTargets = prometheus.scrape_configs
      .flatMap((config) => config.static_configs ?? [])
      .flatMap((config) => config.targets);
    assert.ok(staticTargets.includes('kafka-exporter:9308'));
    assert.ok(compose.services['kafka-exporter'], 'the exporter service is named kafka-exporter');
  });
});
