// Runs empsync roles as child processes (`node src/main.ts <role> <store>`), the way they are
// deployed, so each one's CPU and peak memory can be read apart. Their logs go to the bench's
// stderr (stdout is reserved for the JSON result).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { cpuSeconds, memoryMiB } from './process-stats.ts';
import { parseExposition } from './prometheus-text.ts';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));

/** A TCP port free right now on 127.0.0.1 (the child binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  server.close();
  if (address === null || typeof address === 'string') throw new Error('no TCP port available');
  return address.port;
}

export class RoleProcess {
  readonly name: string;
  readonly port: number;
  /** Where kafka-request-counter.ts dumps this child's request counts (when preloaded). */
  readonly kafkaCountsFile: string | undefined;
  readonly #child: ChildProcess;
  readonly #exited: Promise<number | null>;

  private constructor(name: string, port: number, child: ChildProcess, kafkaCountsFile: string | undefined) {
    this.name = name;
    this.port = port;
    this.kafkaCountsFile = kafkaCountsFile;
    this.#child = child;
    this.#exited = once(child, 'exit').then(([code]) => code as number | null);
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
  }

  /**
   * Starts `node [nodeArgs] src/main.ts ...args` with `env` on top of a clean environment (PATH, HOME
   * only). `nodeArgs` is for diagnostics such as `--cpu-prof`.
   */
  static async start(
    name: string,
    args: string[],
    env: Record<string, string>,
    nodeArgs: string[] = [],
  ): Promise<RoleProcess> {
    const port = await freePort();
    const child = spawn(process.execPath, [...nodeArgs, 'src/main.ts', ...args], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env, HTTP_PORT: String(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    return new RoleProcess(name, port, child, env.EMPSYNC_BENCH_KAFKA_COUNTS);
  }

  /** Runs a one-shot role (migrate) to its end; throws on a non-zero exit. */
  static async runToEnd(name: string, args: string[], env: Record<string, string>): Promise<void> {
    const role = await RoleProcess.start(name, args, env);
    const code = await role.#exited;
    if (code !== 0) throw new Error(`${name} exited with code ${code}`);
  }

  get pid(): number {
    return this.#child.pid ?? -1;
  }

  async scrape(): Promise<Map<string, number>> {
    const response = await fetch(`http://127.0.0.1:${this.port}/metrics`);
    if (!response.ok) throw new Error(`${this.name} /metrics answered ${response.status}`);
    return parseExposition(await response.text());
  }

  /** Polls /metrics until `ready` holds (the role has its lease or its consumer), or fails after `timeoutMs`. */
  async waitUntil(ready: (samples: Map<string, number>) => boolean, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.#child.exitCode !== null)
        throw new Error(`${this.name} exited with code ${this.#child.exitCode}`);
      try {
        if (ready(await this.scrape())) return;
      } catch (error) {
        lastError = error;
      }
      await sleep(100);
    }
    throw new Error(
      `${this.name} not ready after ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`,
    );
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
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
  }
}
