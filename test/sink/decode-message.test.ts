import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decodeMessage } from '../../src/sink/decode-message.ts';
import { encodeEnvelope } from '../../src/transport/envelope.ts';
import { bufferHeaders } from '../../src/transport/kafka.ts';

const row = {
  id: 42,
  version: 7n,
  origin: 'mysql' as const,
  values: {
    nom: '', prenom: ' ', email: 'a@b', poste: 'Dev', salaire: '-0.50', department: 'IT',
    date_embauche: '1000-01-01T00:00:00.000000Z', created_at: '9999-12-31T23:59:59.999999Z', updated_at: '2026-01-01T00:00:00.000000Z',
  },
};
const change = (op: 'c' | 'u', table = 'employes') => ({
  seq: 1n, eventId: '3b241101-e2bb-4255-8caf-4136c566a962', table, op, baseVersion: 6n, capturedAt: '2026-01-01T00:00:00.000000Z', row,
});
const message = (value: Buffer | null, key = '42', headers = new Map<Buffer, Buffer>()) => ({
  key: Buffer.from(key), value: value as Buffer, headers, timestamp: 1_795_000_000_000n,
});

describe('decodeMessage', () => {
  it('reads an envelope', () => {
    const decoded = decodeMessage(message(encodeEnvelope(change('u'), 'v1')), 'employes');
    assert.equal(decoded.kind, 'event');
    assert.deepEqual(decoded.kind === 'event' && decoded.event.row, row);
  });

  it('reads the delete a tombstone repeats in its headers (all that is left after compaction)', () => {
    const headers = bufferHeaders({
      'empsync-op': 'd', 'empsync-event-id': '3b241101-e2bb-4255-8caf-4136c566a962', 'empsync-version': '9',
      'empsync-base-version': '7', 'empsync-origin': 'postgres',
    });
    const decoded = decodeMessage(message(null, '-3', headers), 'employes');
    assert.equal(decoded.kind, 'event');
    if (decoded.kind !== 'event') return;
    assert.equal(decoded.event.op, 'd');
    assert.deepEqual(decoded.event.row, { id: -3, version: 9n, origin: 'postgres', values: {} });
    assert.equal(decoded.event.table, 'employes');
    assert.equal(decoded.event.baseVersion, 7n);
  });

  it('reads nothing in a tombstone without headers (written before tombstones carried their delete)', () => {
    assert.deepEqual(decodeMessage(message(null), 'employes'), { kind: 'nothing' });
  });

  it('calls a malformed tombstone, a key that is not the row id, an event of another table and garbage poison, with a reason', () => {
    const badOrigin = bufferHeaders({ 'empsync-version': '9', 'empsync-origin': 'oracle' });
    for (const [value, key, headers, reason] of [
      [null, '1', badOrigin, /origin/],
      [null, 'x', bufferHeaders({ 'empsync-version': '9', 'empsync-origin': 'mysql' }), /key/],
      [Buffer.from('{'), '1', new Map(), /not JSON/],
      [encodeEnvelope(change('c'), 'v1'), '41', new Map(), /key 41 is not row id 42/],
      [encodeEnvelope(change('c', 'departements'), 'v1'), '42', new Map(), /event of table departements on the topic of table employes/],
    ] as const) {
      const decoded = decodeMessage(message(value, key, headers), 'employes');
      assert.equal(decoded.kind, 'poison');
      assert.match(decoded.kind === 'poison' ? decoded.reason : '', reason);
    }
  });
});
