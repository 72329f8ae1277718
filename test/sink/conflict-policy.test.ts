import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { incomingWins } from '../../src/sink/conflict-policy.ts';

describe('incomingWins', () => {
  const mysql = { version: 10n, origin: 'mysql' as const };
  const postgres = { version: 20n, origin: 'postgres' as const };
  it('newer-wins picks the higher version on both sides', () => {
    assert.equal(incomingWins('newer-wins', mysql, postgres), false);
    assert.equal(incomingWins('newer-wins', postgres, mysql), true);
  });
  it('mysql-wins and postgres-wins pick by origin whatever the versions', () => {
    assert.equal(incomingWins('mysql-wins', mysql, postgres), true);
    assert.equal(incomingWins('mysql-wins', postgres, mysql), false);
    assert.equal(incomingWins('postgres-wins', postgres, mysql), true);
  });
  it('equal versions break ties the same way on both sides', () => {
    const a = { version: 5n, origin: 'mysql' as const };
    const b = { version: 5n, origin: 'postgres' as const };
    assert.notEqual(incomingWins('newer-wins', a, b), incomingWins('newer-wins', b, a));
  });
});
