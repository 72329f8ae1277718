// A GraphQL server under test, run as a child process so it has its own event loop and its CPU time
// can be read apart from the load generator's (autocannon runs in the bench's own process).
import { freePort, pollChild, spawnBenchChild, stopBenchChild, type BenchChild } from '../child-process.ts';
import { cpuSeconds } from '../process-stats.ts';

export class ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly #process: BenchChild;

  private constructor(name: string, url: string, process: BenchChild) {
    this.name = name;
    this.url = url;
    this.#process = process;
  }

  /**
   * Starts `node [nodeArgs] <script> ...args` from the repository root with `env(port)` on top of PATH
   * and HOME, and resolves once POST /graphql answers `{ __typename }`.
   */
  static async start(
    name: string,
    script: string,
    args: string[],
    env: (port: number) => Record<string, string>,
    nodeArgs: string[] = [],
  ): Promise<ServerProcess> {
    const port = await freePort();
    const child = spawnBenchChild(name, [script, ...args], env(port), nodeArgs);
    const server = new ServerProcess(name, `http://127.0.0.1:${port}/graphql`, child);
    try {
      await server.#waitUntilAnswering(120_000);
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  async #waitUntilAnswering(timeoutMs: number): Promise<void> {
    const answers = async () => (await this.post<{ __typename: string }>('{ __typename }')).data?.__typename === 'Query';
    await pollChild(this.name, this.#process, answers, timeoutMs, 200);
  }


  /** One GraphQL request, for checks outside the measured runs. */
  async post<T>(
    query: string,
    variables?: Record<string, unknown>,
  ): Promise<{ data?: T; errors?: unknown[] }> {
    const response = await fetch(this.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as { data?: T; errors?: unknown[] };
  }

  /** User + system CPU seconds the child has used so far (Linux /proc). */
  async cpuSeconds(): Promise<number> {
    return cpuSeconds(this.#process.child.pid ?? -1);
  }

  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  async stop(): Promise<void> {
    await stopBenchChild(this.#process, 15_000);
  }
}
