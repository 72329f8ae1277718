// Structured logs (pino) on stdout: one JSON object per line when stdout is a pipe or a file (Compose,
// the tests and log collectors parse them), human-readable lines when it is a terminal. LOG_FORMAT forces either.
import { createRequire } from 'node:module';
import { pino, type DestinationStream, type Logger } from 'pino';
import type { PrettyOptions } from 'pino-pretty';
import type { Config } from './config.ts';

export type { Logger };

// NODE_ENV is accepted and ignored: the format follows the terminal (or LOG_FORMAT), in production too.
type LogConfig = Pick<Config, 'LOG_LEVEL'> & Partial<Pick<Config, 'LOG_FORMAT' | 'NODE_ENV'>>;

/** Whether logs are written for a person: LOG_FORMAT=pretty, or `auto` (the default) with stdout a terminal. */
export function logsArePretty(
  config: Partial<Pick<Config, 'LOG_FORMAT'>>,
  stdout: { isTTY?: boolean } = process.stdout,
): boolean {
  const format = config.LOG_FORMAT ?? 'auto';
  return format === 'pretty' || (format === 'auto' && stdout.isTTY === true);
}

export function createLogger(config: LogConfig, role = 'empsync'): Logger {
  const options = { level: config.LOG_LEVEL, base: { role } };
  if (!logsArePretty(config)) return pino(options);
  // In this thread and synchronous, so log lines and the start banner (src/roles/banner.ts) come out in
  // the order they were written; loaded only here (pino-pretty costs ~45 ms and a few MiB at start-up).
  const pretty = createRequire(import.meta.url)('pino-pretty') as (
    options: PrettyOptions,
  ) => DestinationStream;
  return pino(
    options,
    pretty({
      translateTime: 'HH:MM:ss.l',
      ignore: 'pid,hostname,role',
      messageFormat: '{role}: {msg}',
      sync: true,
    }),
  );
}
