// Runs empsync roles as child processes (`node dist/main.mjs <role> <store>`), the way they are
// deployed, so each one's CPU and peak memory can be read apart. Their logs go to the bench's
// stderr (stdout is reserved for the JSON result).
import { readFileSync } from 'node:fs';
import { empsyncEntry, freePort, pollChild, spawnBenchChild, stopBenchChild, type BenchChild } from '../child-process.ts';
import { cpuSeconds, memoryMiB } from '../process-stats.ts';
import { parseExposition } from './prometheus-text.ts';

export class RoleProcess {
  readonly name: string;
  readonly port: number;
  /** Where kafka-request-counter.ts dumps this child's request counts (when preloaded). */
  readonly kafkaCountsFile: string | undefined;
  readonly #process: BenchChild;

  private constructor(name: string, port: number, process: BenchChild, kafkaCountsFile: string | undefined) {
    this.name = name;
    this.port = port;
    this.kafkaCountsFile = kafkaCountsFile;
    this.#process = process;
  }

  /**
   * Starts `node [nodeArgs] <empsyncEntry> ...args` with `env` on top of a clean environment (PATH, HOME
   * only). `nodeArgs` is for diagnostics such as `--cpu-prof`.
   */
  static async start(
    name: string,
    args: string[],
    env: Record<string, string>,
    nodeArgs: string[] = [],
  ): Promise<RoleProcess> {
    const port = await freePort();
    const child = spawnBenchChild(name, [empsyncEntry, ...args], { ...env, HTTP_PORT: String(port) }, nodeArgs);
    return new RoleProcess(name, port, child, env.EMPSYNC_BENCH_KAFKA_COUNTS);
  }

  /** Runs a one-shot role (migrate) to its end; throws on a non-zero exit. */
  static async runToEnd(name: string, args: string[], env: Record<string, string>): Promise<void> {
    const role = await RoleProcess.start(name, args, env);
    const code = await role.#process.exited;
    if (code !== 0) throw new Error(`${name} exited with code ${code}`);
  }

  get pid(): number {
    return this.#process.child.pid ?? -1;
  }

  async scrape(): Promise<Map<string, number>> {
    const response = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    if (!response.ok) throw new Error(`${this.name} /metrics answered ${response.status}`);
    return parseExposition(await response.text());
  }

  /** Polls /metrics until `ready` holds (the role has its lease or its consumer), or fails after `timeoutMs`. */
  async waitUntil(ready: (samples: Map<string, number>) => boolean, timeoutMs = 60_000): Promise<void> {
    await pollChild(this.name, this.#process, async () => ready(await this.scrape()), timeoutMs, 100);
  }

  /** Kafka requests sent so far, by API (empty unless the counter is preloaded). */
  kafkaRequests(): Record<string, number> {
    if (!this.kafkaCountsFile) return {};
    try {
      return JSON.parse(readFileSync(this.kafkaCountsFile, 'utf8')) as Record<string, number>;
    } catch {
      return {};
    }
  }

  cpuSeconds(): number {
    return cpuSeconds(this.pid);
  }

  memory(): { peakRssMiB: number; rssMiB: number } {
    return memoryMiB(this.pid);
  }

  /** SIGTERM (the role stops its stages cleanly), SIGKILL if it is still there after `graceMs`. */
  async stop(graceMs = 20_000): Promise<void> {
    await stopBenchChild(this.#process, graceMs);
  }
}
