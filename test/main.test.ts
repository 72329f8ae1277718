// The command line: a bad config value or a missing dependency gives one clear line, not a stack trace.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { describe, it } from 'node:test';

async function run(args: string[], env: Record<string, string>) {
  const child = spawn('node_modules/.bin/node', ['src/main.ts', ...args], {
    env: { ...process.env, LOG_LEVEL: 'silent', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const [code] = await once(child, 'exit');
  return { code: code as number, stderr };
}

describe('empsync command line', () => {
  it('names the bad variable and exits 2', async () => {
    const { code, stderr } = await run(['migrate'], { HTTP_PORT: 'eighty' });
    assert.equal(code, 2);
    assert.equal(stderr.trim().split('\n').length, 1);
    assert.match(stderr, /invalid HTTP_PORT/);
  });

  it('explains an unreachable Kafka in one line and exits 1', async () => {
    const { code, stderr } = await run(['migrate'], {
      KAFKA_BROKERS: '127.0.0.1:1',
      MYSQL_URL: 'mysql://root@127.0.0.1:3306/empsync_test_cli',
      POSTGRES_URL: 'postgres://postgres@127.0.0.1:5432/empsync_test_cli',
    });
    assert.equal(code, 1);
    assert.match(stderr, /EMPSYNC_DEPENDENCY_UNAVAILABLE: Kafka is unreachable at 127\.0\.0\.1:1/);
    assert.doesNotMatch(stderr, /^\s+at /m, 'no stack trace');
  });

  it('rejects an unknown role with the usage', async () => {
    const { code, stderr } = await run(['dance'], {});
    assert.equal(code, 2);
    assert.match(stderr, /usage: empsync <role>/);
  });
});
