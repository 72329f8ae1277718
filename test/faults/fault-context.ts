// What a fault case works with: its config, servers, processes and writers, and the helpers its
// inject/heal steps share (paced holds, the pipeline's processes, Kafka topics, poison messages).
import type { ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Admin, Producer } from '@platformatic/kafka';
import type { Config } from '../../src/config.ts';
import type { ConflictPolicy } from '../../src/sink/conflict-policy.ts';
import type { Stores } from '../../src/store/create-stores.ts';
import type { EmployeeFields } from '../../src/store/types.ts';
import { baseClientOptions } from '../../src/transport/kafka.ts';
import { waitForReady, type FaultServers, type LoggedRoles } from '../support/fault-stack.ts';
import type { Workload, WriterName } from '../support/fault-workload.ts';
import { waitFor } from '../support/test-env.ts';

export type FaultMode = 'quick' | 'full';

/** One fault case: a line of the table in fault-cases.ts. */
export interface FaultCase {
  name: string;
  /** Part of the quick mode (`npm test`); every case runs in the full mode. */
  quick: boolean;
  /** The machine's broker, or the private one behind the proxy (faults that kill, wipe or cut it). */
  kafka: 'shared' | 'private';
  /** `all`: one `empsync all`; `split`: api, sink both, relay mysql and relay postgres as separate processes. */
  pipeline?: 'all' | 'split';
  policy?: ConflictPolicy;
  /** Most updates of one row in a row (default 3). */
  chain?: number;
  /** Rows created in MySQL that the MySQL and PostgreSQL writers both update (default none). */
  sharedRows?: number;
  /** The fault, while the writers go on. */
  inject(ctx: FaultContext): Promise<void>;
  /** Its end (nothing when empsync is expected to recover alone). */
  heal(ctx: FaultContext): Promise<void>;
  /** Checks of the case's own once both stores are equal: problems found (empty when none). */
  verify?(ctx: FaultContext, stores: Stores): Promise<string[]>;
}

/** The processes of the case's pipeline: `empsync all`, or its stages apart (split). */
export class Pipeline {
  readonly kind: 'all' | 'split';
  readonly #roles: LoggedRoles;
  readonly #httpPort: number;
  readonly processes = new Map<string, ChildProcess>();

  constructor(kind: 'all' | 'split', roles: LoggedRoles, httpPort: number) {
    this.kind = kind;
    this.#roles = roles;
    this.#httpPort = httpPort;
  }

  /** Starts what is not running and waits for the API's /readyz (the same port each time). */
  async start(): Promise<void> {
    const wanted: [string, string[], Record<string, string>][] =
      this.kind === 'all'
        ? [['all', ['all'], {}]]
        : [
            ['api', ['api'], {}],
            ['sink', ['sink', 'both'], { HTTP_PORT: '0' }],
            ['relay mysql', ['relay', 'mysql'], { HTTP_PORT: '0' }],
            ['relay postgres', ['relay', 'postgres'], { HTTP_PORT: '0' }],
          ];
    for (const [name, args, env] of wanted) {
      const running = this.processes.get(name);
      if (running && running.exitCode === null && running.signalCode === null) continue;
      this.processes.set(name, this.#roles.spawn(args, env));
    }
    await waitForReady(this.#httpPort);
  }

  /** Processes of the pipeline that exited without the test stopping them, with their exit. */
  crashed(): string[] {
    return [...this.processes]
      .filter(([, child]) => this.#roles.crashed(child))
      .map(([name, child]) => `empsync ${name} (pid ${child.pid}) died: code ${child.exitCode}, signal ${child.signalCode}`);
  }

  get(name: string): ChildProcess {
    const child = this.processes.get(name);
    if (!child) throw new Error(`no ${name} process in this pipeline`);
    return child;
  }
}

export interface FaultContext {
  readonly fault: FaultCase;
  readonly mode: FaultMode;
  readonly config: Config;
  readonly servers: FaultServers;
  readonly roles: LoggedRoles;
  readonly pipeline: Pipeline;
  readonly workload: Workload;
  /** A folder of the case's own (dumps). */
  readonly workDirectory: string;
  /** Extra fields of the case's JSON line. */
  readonly facts: Record<string, unknown>;
}

/** Seconds by mode. */
export const bySeconds = (ctx: FaultContext, quick: number, full: number) => (ctx.mode === 'quick' ? quick : full);

/** Lets the writers go on for this long (the fault lasts; a pace, not a wait for an effect). */
export async function hold(ctx: FaultContext, quickSeconds: number, fullSeconds: number): Promise<void> {
  const seconds = bySeconds(ctx, quickSeconds, fullSeconds);
  ctx.roles.note(`holding ${seconds} s`);
  await sleep(seconds * 1000);
}

function admin(config: Config): Admin {
  return new Admin({ ...baseClientOptions(config, 'fault-admin'), retries: 3 });
}

/** Deletes topics and waits until the broker no longer lists them. */
export async function deleteTopics(config: Config, topics: string[]): Promise<void> {
  const client = admin(config);
  try {
    await client.deleteTopics({ topics });
    await waitFor(`topics ${topics.join(', ')} deleted`, async () => {
      const listed = new Set(await client.listTopics());
      return topics.every((topic) => !listed.has(topic));
    });
  } finally {
    await client.close().catch(() => undefined);
  }
}

export async function topicExists(config: Config, topic: string): Promise<boolean> {
  const client = admin(config);
  try {
    return (await client.listTopics()).includes(topic);
  } finally {
    await client.close().catch(() => undefined);
  }
}

/** Produces a message that is no event (a poison) to one partition of the change topic; its offset. */
export async function producePoison(config: Config, partition: number, key: string, value: string): Promise<string> {
  const producer = new Producer(baseClientOptions(config, 'fault-poison'));
  try {
    const result = await producer.send({
      messages: [{ topic: config.KAFKA_TOPIC, partition, key: Buffer.from(key), value: Buffer.from(value) }],
    });
    const offset = result.offsets?.find((o) => o.partition === partition)?.offset;
    if (offset === undefined) throw new Error(`no offset for the poison message: ${JSON.stringify(result, (_, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}`);
    return String(offset);
  } finally {
    await producer.close().catch(() => undefined);
  }
}

const fieldColumns = 'id, nom, prenom, email, poste, salaire, department';

/** The rows of these ids in one store, read through the workload's own SQL pools (they survive restores). */
async function rowsIn(ctx: FaultContext, store: 'mysql' | 'postgres', ids: number[]): Promise<Map<number, EmployeeFields>> {
  if (ids.length === 0) return new Map();
  const rows =
    store === 'mysql'
      ? ((await ctx.workload.sql.mysql.query(`SELECT ${fieldColumns} FROM employes WHERE id IN (?)`, [ids]))[0] as (EmployeeFields & { id: number })[])
      : (await ctx.workload.sql.postgres.query<EmployeeFields & { id: number }>(`SELECT ${fieldColumns} FROM employes WHERE id = ANY($1)`, [ids])).rows;
  return new Map(rows.map(({ id, ...fields }) => [Number(id), fields]));
}

/**
 * Waits until `store` holds the acknowledged state of every row of these writers (rows left uncertain
 * are skipped): what they wrote has crossed.
 */
export async function waitForWritersIn(ctx: FaultContext, writers: WriterName[], store: 'mysql' | 'postgres', timeoutMs = 60_000): Promise<void> {
  const certain = writers.flatMap((name) => ctx.workload.writers[name].expectations()).filter((row) => row.id !== null && row.accepted.length === 1);
  const same = (a: EmployeeFields | undefined, b: EmployeeFields | null) =>
    a === undefined || b === null ? a === undefined && b === null : (['nom', 'prenom', 'email', 'poste', 'salaire', 'department'] as const).every((k) => a[k] === b[k]);
  await waitFor(
    `the rows of ${writers.join(', ')} in ${store}`,
    async () => {
      const found = await rowsIn(ctx, store, certain.map((row) => row.id!));
      return certain.every((row) => same(found.get(row.id!), row.accepted[0]!));
    },
    timeoutMs,
  );
}

/** Rows in a store's outbox (captured, not yet published). */
export async function outboxBacklog(ctx: FaultContext, store: 'mysql' | 'postgres'): Promise<number> {
  if (store === 'mysql') {
    const [rows] = await ctx.workload.sql.mysql.query('SELECT COUNT(*) AS n FROM sync_outbox');
    return Number((rows as { n: number }[])[0]!.n);
  }
  return Number((await ctx.workload.sql.postgres.query<{ n: string }>('SELECT count(*) AS n FROM sync_outbox')).rows[0]!.n);
}
