// A GraphQL server under test, run as a child process so it has its own event loop and its CPU time
// can be read apart from the load generator's (autocannon runs in the bench's own process).
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const repositoryRoot = fileURLToPath(new URL('../../', import.meta.url));
const clockTicksPerSecond = 100;

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

export class ServerProcess {
  readonly name: string;
  readonly url: string;
  readonly #child: ChildProcess;
  readonly #exited: Promise<unknown>;

  private constructor(name: string, url: string, child: ChildProcess) {
    this.name = name;
    this.url = url;
    this.#child = child;
    this.#exited = once(child, 'exit');
    const forward = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n'))
        if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
    };
    child.stdout?.on('data', forward);
    child.stderr?.on('data', forward);
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
    const child = spawn(process.execPath, [...nodeArgs, script, ...args], {
      cwd: repositoryRoot,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env(port) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
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
    const deadline = Date.now() + timeoutMs;
    let lastError: unknown;
    while (Date.now() < deadline) {
      if (this.#child.exitCode !== null)
        throw new Error(`${this.name} exited with code ${this.#child.exitCode}`);
      try {
        const { data } = await this.post<{ __typename: string }>('{ __typename }');
        if (data?.__typename === 'Query') return;
      } catch (error) {
        lastError = error;
      }
      await sleep(200);
    }
    throw new Error(`${this.name} did not answer within ${timeoutMs} ms: ${String(lastError)}`);
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
    const stat = await readFile(`/proc/${this.#child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / clockTicksPerSecond;
  }

  /** SIGTERM, then waits for the exit (SIGKILL after 15 s). */
  async stop(): Promise<void> {
    if (this.#child.exitCode !== null || this.#child.signalCode !== null) return;
    this.#child.kill('SIGTERM');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 15_000);
    await this.#exited;
    clearTimeout(timer);
  }
}
