// The Debezium side of the comparison: the two connectors' settings (every one that differs from a
// default is here, with why) and a small client of the Kafka Connect REST API that creates, pauses,
// resumes and deletes them on the worker scripts/debezium.sh runs.
import { setTimeout as sleep } from 'node:timers/promises';
import type { DebeziumBenchNames } from './setup.ts';

export type ConnectorConfig = Record<string, string>;

export interface DebeziumConnectors {
  source: { name: string; config: ConnectorConfig };
  sink: { name: string; config: ConnectorConfig };
  /** The change topic the source writes and the sink reads. */
  topic: string;
  schemaHistoryTopic: string;
}

/**
 * MariaDB `employes` → Kafka → PostgreSQL `employes`. The source skips existing rows (no_data) and
 * streams the binlog; the sink reads Debezium's envelope natively (no ExtractNewRecordState needed)
 * and upserts by the record key, the table's primary key.
 */
export function debeziumConnectors(names: DebeziumBenchNames): DebeziumConnectors {
  const database = names.debeziumDatabase;
  const topic = `${names.tag}.${database}.employes`;
  const schemaHistoryTopic = `${names.tag}-schema-history`;
  const env = (name: string, fallback: number) => String(process.env[name] || fallback);
  return {
    topic,
    schemaHistoryTopic,
    source: {
      name: `${names.tag}-source`,
      config: {
        'connector.class': 'io.debezium.connector.mariadb.MariaDbConnector',
        'tasks.max': '1',
        'database.hostname': '127.0.0.1',
        'database.port': String(names.mysqlPort),
        'database.user': 'root',
        'database.password': '',
        // Any id no other replica of the server uses.
        'database.server.id': String(5400 + (process.pid % 1000)),
        'topic.prefix': names.tag,
        'database.include.list': database,
        'table.include.list': `${database}.employes`,
        'snapshot.mode': 'no_data',
        'include.schema.changes': 'false',
        'schema.history.internal.kafka.bootstrap.servers': names.brokers,
        'schema.history.internal.kafka.topic': schemaHistoryTopic,
        // The broker has auto.create.topics.enable=false: Connect creates the change topic itself.
        'topic.creation.default.replication.factor': '1',
        'topic.creation.default.partitions': '1',
        // Default 500 ms: how long a poll waits for a batch to fill before it hands over a partial
        // one. An operator who cares about latency lowers it (DBZ_POLL_INTERVAL_MS).
        'poll.interval.ms': env('DBZ_POLL_INTERVAL_MS', 50),
        // Defaults (2048, 8192) kept explicit so the report shows them.
        'max.batch.size': env('DBZ_MAX_BATCH_SIZE', 2048),
        'max.queue.size': env('DBZ_MAX_QUEUE_SIZE', 8192),
      },
    },
    sink: {
      name: `${names.tag}-sink`,
      config: {
        'connector.class': 'io.debezium.connector.jdbc.JdbcSinkConnector',
        'tasks.max': '1',
        topics: topic,
        // reWriteBatchedInserts: pgjdbc sends a JDBC batch as multi-row statements (an operator's
        // usual PostgreSQL tuning); DBZ_REWRITE_BATCHED=0 turns it off.
        'connection.url': `jdbc:postgresql://127.0.0.1:5432/${database}${process.env.DBZ_REWRITE_BATCHED === '0' ? '' : '?reWriteBatchedInserts=true'}`,
        'connection.username': 'postgres',
        'connection.password': '',
        'insert.mode': 'upsert',
        'primary.key.mode': 'record_key',
        'delete.enabled': 'true',
        'schema.evolution': 'none',
        'collection.name.format': 'employes',
        // Default 500; 2000 is the batch of empsync's sink (SINK_MAX_BATCH), and the consumer must
        // hand over that many records per poll (max.poll.records, default 500) for it to fill.
        'batch.size': env('DBZ_SINK_BATCH_SIZE', 2000),
        'consumer.override.max.poll.records': env('DBZ_SINK_BATCH_SIZE', 2000),
      },
    },
  };
}

interface ConnectorStatus {
  connector: { state: string; version?: string };
  tasks: { id: number; state: string; trace?: string; version?: string }[];
}

export class ConnectWorker {
  readonly #url: string;

  constructor(url: string) {
    this.#url = url;
  }

  async #request(method: string, path: string, body?: unknown): Promise<unknown> {
    const response = await fetch(`${this.#url}${path}`, {
      method,
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: body === undefined ? null : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`Connect ${method} ${path} answered ${response.status}: ${text}`);
    return text ? JSON.parse(text) : undefined;
  }

  /** The worker's Kafka Connect version. */
  async version(): Promise<string> {
    return ((await this.#request('GET', '/')) as { version: string }).version;
  }

  /** Installed plugin classes and their versions. */
  async plugins(): Promise<Record<string, string>> {
    const plugins = (await this.#request('GET', '/connector-plugins')) as {
      class: string;
      version: string;
    }[];
    return Object.fromEntries(plugins.map((p) => [p.class, p.version]));
  }

  async put(name: string, config: ConnectorConfig): Promise<void> {
    await this.#request('PUT', `/connectors/${name}/config`, config);
  }

  async status(name: string): Promise<ConnectorStatus> {
    return (await this.#request('GET', `/connectors/${name}/status`)) as ConnectorStatus;
  }

  /** Polls until the connector and its task are in `state` (RUNNING, PAUSED); fails fast on FAILED. */
  async waitFor(name: string, state: 'RUNNING' | 'PAUSED', timeoutMs = 60_000): Promise<ConnectorStatus> {
    const deadline = Date.now() + timeoutMs;
    let last: ConnectorStatus | undefined;
    while (Date.now() < deadline) {
      try {
        last = await this.status(name);
        const failed = last.tasks.find((t) => t.state === 'FAILED');
        if (failed) throw new Error(`${name} task ${failed.id} FAILED: ${failed.trace?.split('\n')[0]}`);
        if (
          last.connector.state === state &&
          last.tasks.length > 0 &&
          last.tasks.every((t) => t.state === state)
        )
          return last;
      } catch (error) {
        if (String(error).includes('FAILED')) throw error;
      }
      await sleep(200);
    }
    throw new Error(`${name} not ${state} after ${timeoutMs} ms: ${JSON.stringify(last)}`);
  }

  async pause(name: string): Promise<void> {
    await this.#request('PUT', `/connectors/${name}/pause`);
    await this.waitFor(name, 'PAUSED');
  }

  async resume(name: string): Promise<void> {
    await this.#request('PUT', `/connectors/${name}/resume`);
    await this.waitFor(name, 'RUNNING');
  }

  async delete(name: string): Promise<void> {
    await this.#request('DELETE', `/connectors/${name}`).catch(() => undefined);
  }
}
