// The two pipelines under comparison behind one shape: started (or resumed) before their phases,
// stopped (or paused) after, so only one of them runs while it is measured. empsync runs its real
// relay and sink as child processes; Debezium runs as two connectors in the Connect worker.
import { readGauge } from '../pipeline/prometheus-text.ts';
import { RoleProcess } from '../pipeline/role-process.ts';
import { cpuSeconds, memoryMiB } from '../process-stats.ts';
import { round } from '../pipeline/statistics.ts';
import type { ConnectWorker, DebeziumConnectors } from './connect-worker.ts';

export interface ProcessFigures {
  pid: number;
  cpuSecondsTotal: number;
  peakRssMiB: number;
}

export interface Pipeline {
  readonly name: 'empsync' | 'debezium';
  /** The database (same name on MariaDB and PostgreSQL) its writers write and its probes read. */
  readonly database: string;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** CPU seconds of the pipeline's own processes so far (while they run). */
  cpuSeconds(): number;
  processes(): Record<string, ProcessFigures>;
}

const figures = (pid: number): ProcessFigures => ({
  pid,
  cpuSecondsTotal: round(cpuSeconds(pid), 2),
  peakRssMiB: round(memoryMiB(pid).peakRssMiB, 1),
});

/** `relay mysql` and `sink postgres` (RoleProcess: the bundle unless BENCH_SOURCES=1), a fresh pair per start. */
export class EmpsyncPipeline implements Pipeline {
  readonly name = 'empsync';
  readonly database: string;
  readonly #env: Record<string, string>;
  #children: RoleProcess[] = [];
  #starts = 0;
  /** Figures of the children of earlier starts, read just before they stopped. */
  readonly #stopped: Record<string, ProcessFigures> = {};

  constructor(database: string, env: Record<string, string>) {
    this.database = database;
    this.#env = env;
  }

  async start(): Promise<void> {
    this.#starts++;
    const relay = await RoleProcess.start('relay', ['relay', 'mysql'], this.#env);
    const sink = await RoleProcess.start('sink', ['sink', 'postgres'], this.#env);
    this.#children = [relay, sink];
    await relay.waitUntil((s) => readGauge(s, 'empsync_relay_active', 'store="mysql"') === 1);
    await sink.waitUntil((s) => readGauge(s, 'empsync_sink_up', 'store="postgres"') === 1);
  }

  async stop(): Promise<void> {
    for (const child of this.#children) this.#stopped[`${child.name}#${this.#starts}`] = figures(child.pid);
    await Promise.allSettled(this.#children.map((child) => child.stop()));
    this.#children = [];
  }

  cpuSeconds(): number {
    return this.#children.reduce((sum, child) => sum + child.cpuSeconds(), 0);
  }

  processes(): Record<string, ProcessFigures> {
    return this.#stopped;
  }
}

/** The source and sink connectors: created on the first start, paused and resumed after. */
export class DebeziumPipeline implements Pipeline {
  readonly name = 'debezium';
  readonly database: string;
  readonly #worker: ConnectWorker;
  readonly #connectors: DebeziumConnectors;
  readonly #workerPid: () => number;
  #created = false;

  constructor(
    database: string,
    worker: ConnectWorker,
    connectors: DebeziumConnectors,
    workerPid: () => number,
  ) {
    this.database = database;
    this.#worker = worker;
    this.#connectors = connectors;
    this.#workerPid = workerPid;
  }

  get created(): boolean {
    return this.#created;
  }

  async start(): Promise<void> {
    const { source, sink } = this.#connectors;
    if (!this.#created) {
      this.#created = true;
      await this.#worker.put(source.name, source.config);
      await this.#worker.waitFor(source.name, 'RUNNING');
      await this.#worker.put(sink.name, sink.config);
      await this.#worker.waitFor(sink.name, 'RUNNING');
      return;
    }
    await Promise.all([this.#worker.resume(source.name), this.#worker.resume(sink.name)]);
  }

  async stop(): Promise<void> {
    const { source, sink } = this.#connectors;
    await Promise.all([this.#worker.pause(source.name), this.#worker.pause(sink.name)]);
  }

  /** The whole worker JVM: the two tasks, their Kafka clients, and the worker itself. */
  cpuSeconds(): number {
    return cpuSeconds(this.#workerPid());
  }

  processes(): Record<string, ProcessFigures> {
    return { connectWorker: figures(this.#workerPid()) };
  }

  async remove(): Promise<void> {
    await this.#worker.delete(this.#connectors.sink.name);
    await this.#worker.delete(this.#connectors.source.name);
  }
}
