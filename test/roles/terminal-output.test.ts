// What a role writes on stdout, as a person and as a log collector see it: on a terminal (a
// pseudo-terminal from `script`, as a shell gives) readable log lines and a banner with the URLs of the
// console, GraphiQL and metrics; through a pipe (Compose, the tests) JSON lines only, the URLs in the
// "empsync <role> running" line. LOG_FORMAT overrides the choice.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { stripVTControlCharacters } from 'node:util';
import { logsArePretty } from '../../src/logger.ts';
import { formatBanner, roleUrls } from '../../src/roles/banner.ts';
import { configEnv, freePort } from '../support/role-processes.ts';
import { dropTestDatabases, testConfig, waitFor } from '../support/test-env.ts';

const config = testConfig('roles_terminal_output');

interface RoleOutput {
  /** stdout as written, terminal control sequences removed, CRLF made LF. */
  text: string;
  code: number | null;
}

/**
 * Runs `empsync <role>` until its stdout shows `until`, then stops it as a person would (Ctrl-C on a
 * terminal, SIGTERM otherwise) and returns what it wrote.
 */
async function runUntil(
  role: string,
  until: RegExp,
  options: { terminal: boolean; env?: Record<string, string> },
): Promise<RoleOutput> {
  const env = { ...process.env, ...configEnv(config), HTTP_PORT: '0', LOG_LEVEL: 'info', ...options.env };
  const command = `exec node_modules/.bin/node src/main.ts ${role}`;
  // `script` gives the command a pseudo-terminal; what is typed on its stdin reaches the terminal.
  const child: ChildProcess = options.terminal
    ? spawn('script', ['-qec', command, '/dev/null'], { env, stdio: ['pipe', 'pipe', 'inherit'] })
    : spawn('node_modules/.bin/node', ['src/main.ts', role], { env, stdio: ['ignore', 'pipe', 'inherit'] });
  let raw = '';
  child.stdout!.on('data', (chunk: Buffer) => (raw += chunk.toString()));
  const exited = once(child, 'exit');
  const text = () => stripVTControlCharacters(raw).replace(/\r\n/g, '\n');
  try {
    await waitFor(`${until} on stdout`, async () => until.test(text()), 90_000);
    if (options.terminal) child.stdin!.write('\x03');
    else child.kill('SIGTERM');
    const [code] = (await Promise.race([
      exited,
      sleep(20_000, undefined, { ref: false }).then(() =>
        Promise.reject(new Error('the role did not stop within 20 s')),
      ),
    ])) as [number | null];
    return { text: text(), code };
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
}

const jsonLines = (text: string) =>
  text
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as { msg?: string; role?: string; [key: string]: unknown });

describe('terminal output: log format and banner', () => {
  before(() => dropTestDatabases(config));
  after(() => dropTestDatabases(config));

  it('decides the format from LOG_FORMAT, else from whether stdout is a terminal', () => {
    assert.equal(logsArePretty({}, { isTTY: true }), true);
    assert.equal(logsArePretty({ LOG_FORMAT: 'auto' }, { isTTY: false }), false);
    assert.equal(logsArePretty({ LOG_FORMAT: 'auto' }, {}), false);
    assert.equal(logsArePretty({ LOG_FORMAT: 'json' }, { isTTY: true }), false);
    assert.equal(logsArePretty({ LOG_FORMAT: 'pretty' }, { isTTY: false }), true);
  });

  it('banner: the console and GraphiQL for the API roles only, metrics on METRICS_PORT when set, GraphQL in production', () => {
    const servers = { server: null };
    const local = { HTTP_HOST: '0.0.0.0', HTTP_PORT: 8000, METRICS_PORT: undefined };
    assert.deepEqual(roleUrls('all', local, servers), {
      console: 'http://localhost:8000/console',
      graphql: 'http://localhost:8000/graphql',
      metrics: 'http://localhost:8000/metrics',
      readyz: 'http://localhost:8000/readyz',
    });
    assert.deepEqual(roleUrls('relay', { ...local, HTTP_HOST: '::1' }, servers), {
      metrics: 'http://[::1]:8000/metrics',
      readyz: 'http://[::1]:8000/readyz',
    });
    const banner = formatBanner('api', roleUrls('api', local, servers), false);
    assert.match(banner, /^ {2}GraphiQL {2}http:\/\/localhost:8000\/graphql$/m);
    assert.match(
      formatBanner('api', roleUrls('api', local, servers), true),
      /^ {2}GraphQL {3}http:\/\/localhost:8000\/graphql$/m,
      'no GraphiQL in production',
    );
    assert.doesNotMatch(formatBanner('sink', roleUrls('sink', local, servers), false), /console|graphql/i);
  });

  it('on a terminal: readable log lines, then a banner with the console, GraphiQL and metrics URLs; Ctrl-C stops it', async () => {
    const metricsPort = await freePort();
    const { text, code } = await runUntil('api', /^ {2}ready {5}http:\S+\/readyz$/m, {
      terminal: true,
      env: { METRICS_PORT: String(metricsPort) },
    });
    assert.equal(code, 0, text);
    // pino-pretty's lines: "[HH:MM:ss.l] LEVEL: role: message", never a JSON object.
    assert.match(text, /^\[\d{2}:\d{2}:\d{2}\.\d{3}\] INFO: api: empsync api running$/m);
    assert.doesNotMatch(text, /^\{"level"/m, 'no JSON line on a terminal');
    const banner = /^empsync api is running \(Ctrl-C stops it\)\n((?: {2}\S+ +http:\S+\n)+)/m.exec(text);
    assert.ok(banner, `a banner in:\n${text}`);
    const urls = Object.fromEntries(
      banner[1]!
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/ +/) as [string, string]),
    );
    const port = /:(\d+)\/console$/.exec(urls.console ?? '')?.[1];
    assert.ok(port && port !== '0', 'the port the API listens on, not HTTP_PORT=0');
    assert.deepEqual(urls, {
      console: `http://127.0.0.1:${port}/console`,
      GraphiQL: `http://127.0.0.1:${port}/graphql`,
      metrics: `http://127.0.0.1:${metricsPort}/metrics`,
      ready: `http://127.0.0.1:${port}/readyz`,
    });
    assert.match(
      text.slice(banner.index + banner[0].length),
      /INFO: api: stopping/,
      'Ctrl-C reached the role',
    );
  });

  it('through a pipe: JSON lines only, no banner, the URLs in the "empsync api running" line', async () => {
    const { text, code } = await runUntil('api', /"msg":"empsync api running"/, { terminal: false });
    assert.equal(code, 0);
    const lines = jsonLines(text);
    assert.doesNotMatch(text, /Ctrl-C stops it/);
    const running = lines.find((line) => line.msg === 'empsync api running');
    assert.equal(running?.role, 'api');
    const port = /:(\d+)\/graphql$/.exec(String(running?.graphql))?.[1];
    assert.deepEqual(
      [running?.console, running?.graphql, running?.metrics, running?.readyz],
      ['console', 'graphql', 'metrics', 'readyz'].map((path) => `http://127.0.0.1:${port}/${path}`),
    );
  });

  it('LOG_FORMAT=json keeps JSON lines on a terminal; the banner is still shown to the person there', async () => {
    const { text, code } = await runUntil('sink postgres', /^ {2}ready {5}http:\S+\/readyz$/m, {
      terminal: true,
      env: { LOG_FORMAT: 'json' },
    });
    assert.equal(code, 0, text);
    const [logs, banner] = [
      text.split('\n').filter((line) => line.startsWith('{')),
      /^empsync sink is running[^\n]*\n((?: {2}.*\n)+)/m.exec(text),
    ];
    assert.ok(
      jsonLines(logs.join('\n')).some(
        (line) => line.msg === 'empsync sink running' && typeof line.metrics === 'string',
      ),
    );
    assert.ok(banner, text);
    assert.deepEqual(
      banner[1]!
        .trim()
        .split('\n')
        .map((line) => line.trim().split(/ +/)[0]),
      ['metrics', 'ready'],
      'a sink serves no console and no GraphQL',
    );
  });
});
