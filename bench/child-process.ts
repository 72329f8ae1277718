// What both benchmarks need to run a piece of empsync (or its peer) as a child process: a free port,
// a spawn from the repository root with a clean environment and prefixed logs, and a graceful stop.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { setTimeout as sleep } from 'node:timers/promises';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

const repositoryRoot = fileURLToPath(new URL('../', import.meta.url));

/**
 * The empsync program a benchmark runs: the bundle (`npm run build`, built by scripts/bench.sh), as the
 * Docker image runs it; `BENCH_SOURCES=1` runs the TypeScript sources instead, as `npm start` does.
 */
export const empsyncEntry = process.env.BENCH_SOURCES === '1' ? 'src/main.ts' : 'dist/main.mjs';

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

export interface BenchChild {
  child: ChildProcess;
  /** Resolves with the exit code (null when killed by a signal). */
  exited: Promise<number | null>;
}

/**
 * Starts `node [nodeArgs] ...argv` from the repository root with `env` on top of PATH and HOME only,
 * and copies its stdout and stderr to the bench's stderr as `[name] line` (stdout is the JSON result).
 */
export function spawnBenchChild(name: string, argv: string[], env: Record<string, string>, nodeArgs: string[] = []): BenchChild {
  const child = spawn(process.execPath, [...nodeArgs, ...argv], {
    cwd: repositoryRoot,
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (line.trim()) process.stderr.write(`[${name}] ${line}\n`);
  };
  child.stdout?.on('data', forward);
  child.stderr?.on('data', forward);
  return { child, exited: once(child, 'exit').then(([code]) => code as number | null) };
}

/** SIGTERM (the process stops cleanly), SIGKILL if it is still there after `graceMs`. */
export async function stopBenchChild({ child, exited }: BenchChild, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

/**
 * Polls `check` every `intervalMs` until it returns true; fails when the child exits first or after
 * `timeoutMs` (naming the last error `check` threw).
 */
export async function pollChild(
  name: string,
  { child }: BenchChild,
  check: () => Promise<boolean>,
  timeoutMs: number,
  intervalMs: number,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${name} exited with code ${child.exitCode}`);
    try {
      if (await check()) return;
    } catch (error) {
      lastError = error;
    }
    await sleep(intervalMs);
  }
  throw new Error(`${name} not ready within ${timeoutMs} ms${lastError ? `: ${String(lastError)}` : ''}`);
}
