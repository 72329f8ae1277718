// TLS to both databases and to Kafka through the config (issue "Secure by default", item 5;
// docs/security.md): private servers that accept TLS clients only — a MariaDB with
// require_secure_transport, a PostgreSQL with hostssl only, a Kafka SSL listener —, certificates from a
// test CA. The pipeline syncs both ways through them with MYSQL_TLS, POSTGRES_TLS, KAFKA_TLS and the CA
// files; every session is encrypted; a client that trusts another CA is refused.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { sql } from 'kysely';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { Config } from '../../src/config.ts';
import { startRole, type RunningRole } from '../../src/roles/roles.ts';
import { createStores, ensureDatabases } from '../../src/store/create-stores.ts';
import { pingKafka } from '../../src/transport/kafka.ts';
import { waitForConvergence } from '../support/assertions.ts';
import { privateDatabase, startBroker, startPrivateDatabase, stopBroker, stopPrivateDatabase } from '../support/private-services.ts';
import { quietLogger, testConfig } from '../support/test-env.ts';

const run = promisify(execFile);
const mariadb = privateDatabase('mariadb', 13506);
const postgres = privateDatabase('postgres', 15632);
const broker = { port: 19792, controllerPort: 19793, ssl: { port: 19794, keystore: '' } };
const certificates = mkdtempSync(join(tmpdir(), 'empsync-tls-'));

/** A CA and, signed by it, a certificate for 127.0.0.1 (what every server here presents). */
async function makeCertificates(): Promise<void> {
  const openssl = (...args: string[]) => run('openssl', args, { cwd: certificates });
  for (const ca of ['ca', 'other-ca']) {
    await openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=empsync test ${ca}`, '-keyout', `${ca}-key.pem`, '-out', `${ca}.pem`);
  }
  await openssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server-key.pem', '-out', 'server.csr');
  writeFileSync(join(certificates, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca-key.pem', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem');
  // Kafka's PEM keystore: the private key (PKCS#8) and the certificate chain in one file.
  broker.ssl.keystore = join(certificates, 'kafka-keystore.pem');
  writeFileSync(broker.ssl.keystore, readFileSync(join(certificates, 'server-key.pem'), 'utf8') + readFileSync(join(certificates, 'server.pem'), 'utf8'));
}

const tls = (ca = 'ca.pem') => ({
  MYSQL_URL: mariadb.url('empsync_test_tls'),
  POSTGRES_URL: postgres.url('empsync_test_tls'),
  KAFKA_BROKERS: `127.0.0.1:${broker.ssl.port}`,
  MYSQL_TLS: 'true',
  MYSQL_TLS_CA_FILE: join(certificates, ca),
  POSTGRES_TLS: 'true',
  POSTGRES_TLS_CA_FILE: join(certificates, ca),
  KAFKA_TLS: 'true',
  KAFKA_TLS_CA_FILE: join(certificates, ca),
});

describe('TLS to MySQL, PostgreSQL and Kafka through the config', () => {
  let running: RunningRole | undefined;
  let config: Config;
  before(async () => {
    await makeCertificates();
    await Promise.all([
      startPrivateDatabase(mariadb, { fresh: true, tlsDirectory: certificates }),
      startPrivateDatabase(postgres, { fresh: true, tlsDirectory: certificates }),
    ]);
    await startBroker({ ...broker, fresh: true });
    config = testConfig('tls', tls());
  });
  after(async () => {
    await running?.stop();
    await Promise.allSettled([stopPrivateDatabase(mariadb), stopPrivateDatabase(postgres), stopBroker(broker)]);
  });

  it('the servers refuse clients without TLS', async () => {
    await assert.rejects(
      mysql.createConnection({ uri: mariadb.url('mysql') }).then((c) => c.end()),
      // MySQL answers ER_SECURE_TRANSPORT_REQUIRED (3159); MariaDB denies the login (1045) to the same
      // account that the TLS connections below use.
      (error: { errno?: number; message?: string }) => [3159, 4151, 1045].includes(error.errno ?? 0) || /secure transport|insecure/i.test(error.message ?? ''),
    );
    const client = new pg.Client({ connectionString: postgres.url('postgres') });
    await assert.rejects(client.connect(), /no pg_hba.conf entry|SSL off/i);
    await client.end().catch(() => undefined);
    await assert.rejects(pingKafka(testConfig('tls', { KAFKA_BROKERS: `127.0.0.1:${broker.ssl.port}` }), 3000), 'a plaintext Kafka client gets no answer from the SSL listener');
  });

  it('syncs both ways with every connection encrypted and each server certificate verified against the CA', async () => {
    await pingKafka(config);
    running = await startRole('all', { config, logger: quietLogger(config) });
    const { mysql: my, postgres: pgStore } = running.stores;
    await my.employees.insert({ nom: 'Tls', prenom: 'My', email: 'tls.my@example.fr', poste: 'Dev', salaire: '1.00', department: 'T' });
    await sql`INSERT INTO employes (nom, prenom, email, poste, salaire, department) VALUES ('Tls', 'Pg', 'tls.pg@example.fr', 'Dev', 1, 'T')`.execute(pgStore.db);
    assert.equal(await waitForConvergence(running.stores, 60_000), 2);
    const cipher = await sql<{ Value: string }>`SHOW SESSION STATUS LIKE 'Ssl_cipher'`.execute(my.db);
    assert.ok(cipher.rows[0]?.Value, 'the MySQL session is encrypted');
    const ssl = await sql<{ ssl: boolean }>`SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()`.execute(pgStore.db);
    assert.equal(ssl.rows[0]?.ssl, true, 'the PostgreSQL session is encrypted');
  });

  it('refuses servers whose certificate another CA signed: MySQL, PostgreSQL and Kafka', async () => {
    const other = testConfig('tls', tls('other-ca.pem'));
    await assert.rejects(ensureDatabases({ ...other, POSTGRES_TLS: false }, { waitForMs: 1000 }), /certificate|self.signed|verify/i);
    const stores = createStores(other);
    try {
      await assert.rejects(stores.postgres.ping(), /certificate|self.signed|verify/i);
    } finally {
      await stores.mysql.close();
      await stores.postgres.close();
    }
    await assert.rejects(pingKafka(other, 3000));
  });
});
