// `node bench/pipeline/sink-breakdown.ts`: where one sink batch spends its time, measured apart
// from Kafka — decoding the envelopes, then each step of the apply transaction of the real
// PostgreSQL store — for a small batch (the latency case) and a full one (the throughput case),
// next to the same upsert into a trigger-free copy of the table (`bareUpsertTransactionMs`).
// Uses its own database (empsync_bench_breakdown, dropped at the end). JSON on stdout.
import { randomUUID } from 'node:crypto';
import mysql from 'mysql2/promise';
import pg from 'pg';
import { planBatch, uniqueRequest, type PositionedEvent } from '../../src/sink/plan-batch.ts';
import { ensureDatabases } from '../../src/store/create-stores.ts';
import { PostgresStore } from '../../src/store/postgres/postgres-store.ts';
import type { OutboxRow } from '../../src/store/types.ts';
import { employesTable } from '../../src/tables/employes.ts';
import { declaredSchema } from '../../src/tables/table-schema.ts';
import { decodeEnvelope, encodeEnvelope } from '../../src/transport/envelope.ts';
import { upsertCeiling } from './postgres-probes.ts';
import { median, round } from './statistics.ts';

const database = 'empsync_bench_breakdown';
const postgresUrl = `postgres://postgres@127.0.0.1:5432/${database}`;
const sizes = [20, 2000];
const schema = declaredSchema(employesTable('breakdown'));

let nextId = 1;
function outboxRows(size: number): OutboxRow[] {
  return Array.from({ length: size }, () => {
    const id = nextId++;
    const now = new Date().toISOString().replace('Z', '000Z');
    return {
      seq: BigInt(id),
      eventId: randomUUID(),
      table: 'employes',
      op: 'c',
      baseVersion: 0n,
      capturedAt: now,
      row: {
        id,
        version: 1_764_000_000_000_000n + BigInt(id),
        origin: 'mysql',
        values: {
          nom: `Nom${id}`,
          prenom: `Prenom${id}`,
          email: `breakdown.${id}@bench.example`,
          poste: 'Dev',
          salaire: '1000.00',
          department: `D${id % 7}`,
          date_embauche: now,
          created_at: now,
          updated_at: now,
        },
      },
    };
  });
}

function timeDecode(size: number, repeats: number) {
  const buffers = outboxRows(size).map((row) => encodeEnvelope(row, schema.version));
  const parseMs: number[] = [];
  const decodeMs: number[] = [];
  for (let r = 0; r < repeats + 3; r++) {
    let t = performance.now();
    for (const buffer of buffers) JSON.parse(buffer.toString('utf8'));
    const parse = performance.now() - t;
    t = performance.now();
    for (const buffer of buffers) decodeEnvelope(buffer);
    const decode = performance.now() - t;
    if (r >= 3) {
      parseMs.push(parse);
      decodeMs.push(decode);
    }
  }
  return { jsonParseMs: round(median(parseMs), 2), decodeEnvelopeMs: round(median(decodeMs), 2) };
}

async function timeTransaction(store: PostgresStore, size: number, repeats: number) {
  const steps: Record<'readCurrentMs' | 'planBatchMs' | 'writeMs' | 'transactionMs', number[]> = {
    readCurrentMs: [],
    planBatchMs: [],
    writeMs: [],
    transactionMs: [],
  };
  for (let r = 0; r < repeats; r++) {
    const events: PositionedEvent[] = outboxRows(size).map((row, i) => ({
      event: decodeEnvelope(encodeEnvelope(row, schema.version)),
      partition: i % 6,
      offset: row.seq,
    }));
    const started = performance.now();
    await store.apply.transaction(async (tx) => {
      let t = performance.now();
      const current = await tx.readState({
        table: 'employes',
        ids: events.map((e) => e.event.row.id),
        unique: uniqueRequest(
          schema,
          events.map((e) => e.event),
        ),
        offsets: { consumerGroup: 'breakdown', topic: 'breakdown', partitions: [0] },
      });
      steps.readCurrentMs.push(performance.now() - t);
      t = performance.now();
      const offsets = [{ topic: 'breakdown', partition: 0, nextOffset: BigInt(nextId) }];
      const { plan } = planBatch({
        schema,
        target: 'postgres',
        policy: 'newer-wins',
        consumerGroup: 'breakdown',
        events,
        offsets,
        logId: 'breakdown/log',
        current,
      });
      steps.planBatchMs.push(performance.now() - t);
      t = performance.now();
      await tx.write(plan);
      steps.writeMs.push(performance.now() - t);
    });
    steps.transactionMs.push(performance.now() - started);
  }
  const medians = Object.fromEntries(
    Object.entries(steps).map(([k, v]) => [k, round(median(v), 2)]),
  ) as Record<keyof typeof steps, number>;
  return {
    ...medians,
    beginSetConfigCommitMs: round(
      medians.transactionMs - medians.readCurrentMs - medians.planBatchMs - medians.writeMs,
      2,
    ),
  };
}

async function dropDatabases(): Promise<void> {
  const connection = await mysql.createConnection({ host: '127.0.0.1', user: 'root' });
  await connection.query(`DROP DATABASE IF EXISTS \`${database}\``);
  await connection.end();
  const client = new pg.Client({ connectionString: 'postgres://postgres@127.0.0.1:5432/postgres' });
  await client.connect();
  await client.query(`DROP DATABASE IF EXISTS "${database}" WITH (FORCE)`);
  await client.end();
}

await dropDatabases();
await ensureDatabases({ MYSQL_URL: `mysql://root@127.0.0.1:3306/${database}`, POSTGRES_URL: postgresUrl });
const store = new PostgresStore({ url: postgresUrl, poolSize: 2 });
const bare = new pg.Client({ connectionString: postgresUrl });
try {
  await store.migrate();
  await bare.connect();
  await bare.query(
    'CREATE TABLE bench_plain (LIKE employes INCLUDING DEFAULTS INCLUDING INDEXES INCLUDING CONSTRAINTS)',
  );
  const batches = [];
  for (const size of sizes) {
    const repeats = size < 100 ? 200 : 15;
    const decode = timeDecode(size, repeats);
    const transaction = await timeTransaction(store, size, repeats);
    const upsert = await upsertCeiling(bare, {
      rows: size * repeats,
      batch: size,
      firstId: 50_000_000 + size * 1000,
      tag: `b${size}`,
    });
    batches.push({
      events: size,
      ...decode,
      decodeMicrosPerEvent: round((decode.decodeEnvelopeMs * 1000) / size, 1),
      ...transaction,
      bareUpsertTransactionMs: upsert.batchP50Ms,
    });
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'sink-breakdown', at: new Date().toISOString(), medians: batches }, null, 2)}\n`,
  );
} finally {
  await bare.end().catch(() => undefined);
  await store.close();
  await dropDatabases();
}
