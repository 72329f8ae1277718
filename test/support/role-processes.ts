// empsync roles as real child processes for the integration and integrity tests (`node src/main.ts
// <role>` with a test config in the environment), so a test can kill one with SIGKILL mid-stream.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import type { Config } from '../../src/config.ts';

/** The environment that makes a child role load exactly `config`. */
export function configEnv(config: Config): Record<string, string> {
  return Object.fromEntries(
    Object.entries(config).map(([key, value]) => [key, Array.isArray(value) ? value.join(',') : String(value)]),
  );
}

/** A TCP port free right now on 127.0.0.1 (the child binds it a moment later). */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Starts and tracks role processes of one config; `killAll` in the test's `after`. */
export class RoleProcesses {
  readonly #config: Config;
  readonly #children = new Set<ChildProcess>();

  constructor(config: Config) {
    this.#config = config;
  }

  /** `node src/main.ts ...args` with the config, errors-only logs, no HTTP port unless given in `extraEnv`. */
  spawn(args: string[], extraEnv: Record<string, string> = {}): ChildProcess {
    const child = spawn('node_modules/.bin/node', ['src/main.ts', ...args], {
      env: { ...process.env, ...configEnv(this.#config), HTTP_PORT: '0', LOG_LEVEL: 'error', ...extraEnv },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    return child;
  }

  /** Runs a one-shot role to its end: its exit code, or the signal that ended it. */
  async run(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number | null; signal: string | null }> {
    const [code, signal] = (await once(this.spawn(args, extraEnv), 'exit')) as [number | null, string | null];
    return { code, signal };
  }

  async killAll(): Promise<void> {
    await Promise.all([...this.#children].map(kill9));
  }
}

/** SIGKILL, as a power cut would, and waits for the exit. */
export async function kill9(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGKILL');
  await exited;
}
