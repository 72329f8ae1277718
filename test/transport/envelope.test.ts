import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isEmpsyncError } from '../../src/errors.ts';
import { decodeEnvelope, encodeEnvelope } from '../../src/transport/envelope.ts';

const change = {
  seq: 1n,
  eventId: '3b241101-e2bb-4255-8caf-4136c566a962',
  op: 'u' as const,
  baseVersion: 5n,
  capturedAt: '2026-11-25T10:00:00.123456Z',
  row: {
    id: 42,
    nom: 'Dupont',
    prenom: 'Jean',
    email: 'jean@x.fr',
    poste: 'Dev',
    salaire: '1234.50',
    department: 'IT',
    dateEmbauche: '2026-01-02T03:04:05.000001Z',
    createdAt: '2026-01-02T03:04:05.000001Z',
    updatedAt: '2026-11-25T10:00:00.123456Z',
    version: 1795589145172914n,
    origin: 'mysql' as const,
  },
};

describe('event envelope', () => {
  it('round-trips a change exactly (decimal and microseconds kept)', () => {
    const decoded = decodeEnvelope(encodeEnvelope(change));
    assert.deepEqual(decoded.row, change.row);
    assert.equal(decoded.baseVersion, 5n);
    assert.equal(decoded.op, 'u');
  });
  it('rejects bad JSON and schema violations with EMPSYNC_EVENT_INVALID', () => {
    assert.throws(() => decodeEnvelope('{nope'), (e) => isEmpsyncError(e, 'EMPSYNC_EVENT_INVALID'));
    const bad = JSON.parse(encodeEnvelope(change).toString());
    bad.row.salaire = '12,50';
    assert.throws(() => decodeEnvelope(JSON.stringify(bad)), (e) => isEmpsyncError(e, 'EMPSYNC_EVENT_INVALID'));
    bad.row.salaire = '1.00';
    bad.schema = 'other';
    assert.throws(() => decodeEnvelope(JSON.stringify(bad)), /schema/);
  });
});
