import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isEmpsyncError } from '../../src/errors.ts';
import { changeEventId } from '../../src/store/event-id.ts';
import { decodeEnvelope, encodeEnvelope, legacyEnvelopeSchemaName } from '../../src/transport/envelope.ts';

const change = {
  seq: 1n,
  eventId: '3b241101-e2bb-4255-8caf-4136c566a962',
  table: 'employes',
  op: 'u' as const,
  baseVersion: 5n,
  capturedAt: '2026-11-25T10:00:00.123456Z',
  row: {
    id: 42,
    version: 1795589145172914n,
    origin: 'mysql' as const,
    values: {
      nom: 'Dupont',
      prenom: 'Jean',
      email: 'jean@x.fr',
      poste: 'Dev',
      salaire: '1234.50',
      department: 'IT',
      date_embauche: '2026-01-02T03:04:05.000001Z',
      created_at: '2026-01-02T03:04:05.000001Z',
      updated_at: '2026-11-25T10:00:00.123456Z',
      telephone: null,
    },
  },
};

describe('event envelope', () => {
  it('round-trips a change exactly (decimal, microseconds, nulls, table and schema version kept)', () => {
    const decoded = decodeEnvelope(encodeEnvelope(change, 'abc123'));
    assert.deepEqual(decoded.row, change.row);
    assert.equal(decoded.table, 'employes');
    assert.equal(decoded.schemaVersion, 'abc123');
    assert.equal(decoded.baseVersion, 5n);
    assert.equal(decoded.op, 'u');
  });

  it('rejects bad JSON and shape violations with EMPSYNC_EVENT_INVALID', () => {
    assert.throws(() => decodeEnvelope('{nope'), (e) => isEmpsyncError(e, 'EMPSYNC_EVENT_INVALID'));
    const bad = JSON.parse(encodeEnvelope(change, 'v').toString());
    bad.row.values.salaire = 12.5; // values travel as text: a number is a writer's bug
    assert.throws(() => decodeEnvelope(JSON.stringify(bad)), (e) => isEmpsyncError(e, 'EMPSYNC_EVENT_INVALID'));
    bad.row.values.salaire = '12.50';
    bad.table = 'Robert"); DROP TABLE x;--';
    assert.throws(() => decodeEnvelope(JSON.stringify(bad)), /table/);
    bad.table = 'employes';
    bad.schema = 'other';
    assert.throws(() => decodeEnvelope(JSON.stringify(bad)), /schema/);
  });

  it('an event whose id is null (a relay of an earlier release during an upgrade) gets the id the current relay derives', () => {
    const event = JSON.parse(encodeEnvelope(change, 'v').toString());
    event.eventId = null;
    const expected = changeEventId(change.row.origin, change.table, change.op, change.row.id, change.row.version);
    assert.equal(decodeEnvelope(JSON.stringify(event)).eventId, expected);
    assert.equal(decodeEnvelope(JSON.stringify(event), { schemaOnly: true }).eventId, expected);
    // Absent is not null: still refused.
    Reflect.deleteProperty(event, 'eventId');
    assert.throws(() => decodeEnvelope(JSON.stringify(event)), (e) => isEmpsyncError(e, 'EMPSYNC_EVENT_INVALID'));
  });

  it('still reads a v1 event of employes (camelCase fields) as the same row', () => {
    const v1 = {
      schema: legacyEnvelopeSchemaName,
      eventId: change.eventId,
      op: 'u',
      origin: 'mysql',
      version: change.row.version.toString(),
      baseVersion: '5',
      committedAt: change.capturedAt,
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
      },
    };
    const decoded = decodeEnvelope(JSON.stringify(v1));
    const values = Object.fromEntries(Object.entries(change.row.values).filter(([column]) => column !== 'telephone'));
    assert.deepEqual(decoded.row, { ...change.row, values });
    assert.equal(decoded.table, 'employes');
    assert.equal(decoded.schemaVersion, '');
  });

  it('the fast path of well-formed events decides exactly as the schema does (property)', () => {
    const base = JSON.parse(
      encodeEnvelope(
        {
          seq: 1n,
          eventId: '0b6f3e43-7d1e-4b8e-9a4f-1c2d3e4f5a6b',
          table: 'employes',
          op: 'u',
          baseVersion: 1n,
          capturedAt: '2026-01-02T03:04:05.123456Z',
          row: { id: 7, version: 2n, origin: 'mysql', values: { nom: 'N', salaire: '1.50', poste: null } },
        },
        'v1abc',
      ).toString(),
    ) as Record<string, unknown>;
    const field = fc.constantFrom('schema', 'table', 'schemaVersion', 'eventId', 'op', 'origin', 'version', 'baseVersion', 'committedAt', 'row', 'row.id', 'row.values', 'row.values.nom');
    const value = fc.oneof(
      fc.string(),
      fc.constantFrom('', 'r', 'd', 'postgres', 'MYSQL', '-1', '12345678901234567890', '2026-02-30T00:00:00Z', '2026-01-02 03:04:05', '0B6F3E43-7D1E-4B8E-9A4F-1C2D3E4F5A6B', 'Employes', 'x'.repeat(65)),
      fc.integer(),
      fc.double(),
      fc.boolean(),
      fc.constant(null),
      fc.constant(undefined),
      fc.array(fc.string(), { maxLength: 2 }),
      fc.dictionary(fc.string({ maxLength: 3 }), fc.oneof(fc.string(), fc.integer(), fc.constant(null)), { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(field, value), { maxLength: 3 }), (mutations) => {
        const event = structuredClone(base) as Record<string, unknown>;
        for (const [path, v] of mutations) {
          const keys = path.split('.');
          let target = event as Record<string, unknown>;
          for (const key of keys.slice(0, -1)) {
            if (target[key] === null || typeof target[key] !== 'object') target[key] = {};
            target = target[key] as Record<string, unknown>;
          }
          if (v === undefined) Reflect.deleteProperty(target, keys.at(-1)!);
          else target[keys.at(-1)!] = v;
        }
        const text = JSON.stringify(event);
        const outcome = (schemaOnly: boolean) => {
          try {
            return decodeEnvelope(text, { schemaOnly });
          } catch (error) {
            assert.ok(isEmpsyncError(error));
            return 'refused';
          }
        };
        assert.deepEqual(outcome(false), outcome(true));
      }),
      { numRuns: 2000 },
    );
  });
});
