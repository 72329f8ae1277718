import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { loadConfig } from '../src/config.ts';
import { isEmpsyncError } from '../src/errors.ts';

describe('config', () => {
  it('has working local defaults and is frozen', () => {
    const config = loadConfig({});
    assert.equal(config.HTTP_PORT, 8000);
    assert.equal(config.KAFKA_TOPIC, 'employes-sync');
    assert.deepEqual(config.KAFKA_BROKERS, ['127.0.0.1:9092']);
    assert.ok(Object.isFrozen(config));
  });
  it('names the bad variable in one line', () => {
    for (const [variable, value] of [['HTTP_PORT', 'abc'], ['KAFKA_BROKERS', 'nohostport'], ['MYSQL_URL', 'http://x'], ['CONFLICT_POLICY', 'random']]) {
      assert.throws(
        () => loadConfig({ [variable!]: value }),
        (error) => isEmpsyncError(error, 'EMPSYNC_CONFIG_INVALID') && error.message.startsWith(`invalid ${variable}`) && !error.message.includes('\n'),
      );
    }
  });
});
