import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planBatch, type PositionedEvent } from '../../src/sink/plan-batch.ts';
import type { EmployeeRow, StoreName, StoredVersion } from '../../src/store/types.ts';
import type { EmployeeChangedEvent } from '../../src/transport/envelope.ts';

const row = (id: number, version: bigint, origin: StoreName, email = `e${id}@x.io`): EmployeeRow => ({
  id,
  nom: 'N',
  prenom: 'P',
  email,
  poste: 'Dev',
  salaire: '100.00',
  department: 'IT',
  dateEmbauche: '2026-01-01T00:00:00.000000Z',
  createdAt: '2026-01-01T00:00:00.000000Z',
  updatedAt: '2026-01-01T00:00:00.000000Z',
  version,
  origin,
});

let offset = 0n;
const event = (op: EmployeeChangedEvent['op'], r: EmployeeRow, baseVersion = 0n): PositionedEvent => ({
  event: { eventId: `00000000-0000-4000-8000-${String(offset).padStart(12, '0')}`, op, row: r, baseVersion, committedAt: r.updatedAt },
  partition: 0,
  offset: offset++,
});
const stored = (id: number, version: bigint, origin: StoreName, email = `e${id}@x.io`): StoredVersion => ({ id, version, origin, email });

const plan = (events: PositionedEvent[], current: Partial<Parameters<typeof planBatch>[0]['current']> = {}, policy: 'newer-wins' | 'mysql-wins' | 'postgres-wins' = 'newer-wins') =>
  planBatch({
    target: 'postgres',
    policy,
    consumerGroup: 'g',
    events,
    offsets: [],
    logId: 'cluster/topic',
    current: { rows: [], tombstones: [], emailHolders: [], ...current },
  });

describe('planBatch (the sink version guard)', () => {
  it('applies a new row and keeps only the newest event per id', () => {
    const { plan: p, stats } = plan([event('c', row(1, 10n, 'mysql')), event('u', row(1, 20n, 'mysql'), 10n)]);
    assert.deepEqual(p.upserts.map((r) => r.version), [20n]);
    assert.equal(stats.superseded, 1);
  });

  it('skips a replayed older or equal version from the same origin', () => {
    const { plan: p, stats } = plan([event('u', row(1, 10n, 'mysql'), 5n)], { rows: [stored(1, 10n, 'mysql')] });
    assert.equal(p.upserts.length, 0);
    assert.equal(stats.stale, 1);
  });

  it('skips events born in the target store when it holds that version (loop prevention)', () => {
    const { plan: p, stats } = plan([event('c', row(-1, 10n, 'postgres'))], { rows: [stored(-1, 10n, 'postgres')] });
    assert.equal(p.upserts.length, 0);
    assert.equal(stats.ownOrigin, 1);
    const newer = plan([event('u', row(-1, 10n, 'postgres'), 5n)], { rows: [stored(-1, 12n, 'mysql')] });
    assert.equal(newer.plan.upserts.length, 0, 'a later change from the other side is never undone by its own change');
    assert.equal(newer.plan.conflicts.length, 0, 'its own change coming back is never a conflict');
  });

  it('a target restored from an older dump takes its own lost changes back from the log', () => {
    const lost = plan([event('c', row(-2, 10n, 'postgres'))]);
    assert.deepEqual(lost.plan.upserts.map((r) => r.version), [10n]);
    const older = plan([event('u', row(-2, 20n, 'postgres'), 10n)], { rows: [stored(-2, 10n, 'postgres')] });
    assert.deepEqual(older.plan.upserts.map((r) => r.version), [20n]);
    const deleted = plan([event('d', row(-2, 30n, 'postgres'), 20n)], { rows: [stored(-2, 20n, 'postgres')] });
    assert.deepEqual(deleted.plan.deletes.map((d) => d.version), [30n]);
  });

  it('a re-publish of a row born in the target restores it when the target lost it', () => {
    const { plan: p, stats } = plan([event('r', row(-4, 10n, 'postgres'), 10n)]);
    assert.equal(p.upserts.length, 1);
    assert.equal(stats.ownOrigin, 0);
  });

  it('a tombstone stops a late update from resurrecting the row', () => {
    const { plan: p } = plan([event('u', row(1, 10n, 'mysql'), 5n)], { tombstones: [{ id: 1, version: 11n, origin: 'mysql' }] });
    assert.equal(p.upserts.length, 0);
  });

  it('a delete removes the row and records a tombstone', () => {
    const { plan: p } = plan([event('d', row(1, 12n, 'mysql'), 10n)], { rows: [stored(1, 10n, 'mysql')] });
    assert.deepEqual(p.deletes, [{ id: 1, version: 12n, origin: 'mysql' }]);
  });

  it('a change that saw the stored version is applied without a conflict', () => {
    const { plan: p } = plan([event('u', row(1, 30n, 'mysql'), 20n)], { rows: [stored(1, 20n, 'postgres')] });
    assert.equal(p.upserts.length, 1);
    assert.equal(p.conflicts.length, 0);
  });

  it('concurrent changes are a conflict resolved by the policy, and recorded', () => {
    const current = { rows: [stored(1, 25n, 'postgres')] };
    const newer = plan([event('u', row(1, 30n, 'mysql'), 20n)], current);
    assert.equal(newer.plan.upserts.length, 1);
    assert.equal(newer.plan.conflicts[0]?.outcome, 'incoming-applied');
    const postgresWins = plan([event('u', row(1, 30n, 'mysql'), 20n)], current, 'postgres-wins');
    assert.equal(postgresWins.plan.upserts.length, 0);
    assert.equal(postgresWins.plan.conflicts[0]?.outcome, 'local-kept');
    const older = plan([event('u', row(1, 22n, 'mysql'), 20n)], current);
    assert.equal(older.plan.upserts.length, 0);
    assert.equal(older.plan.conflicts.length, 1);
  });

  it('a change built on another version than the stored one is concurrent, even with a higher base', () => {
    // MySQL holds v30 (its own); PostgreSQL's change v50 was built on v40, a version MySQL never held.
    const p = planBatch({
      target: 'mysql',
      policy: 'mysql-wins',
      consumerGroup: 'g',
      events: [event('u', row(1, 50n, 'postgres'), 40n)],
      offsets: [],
      logId: 'cluster/topic',
      current: { rows: [stored(1, 30n, 'mysql')], tombstones: [], emailHolders: [] },
    }).plan;
    assert.equal(p.upserts.length, 0);
    assert.equal(p.conflicts.length, 1);
  });

  it('a chain of changes in one batch keeps the base of its first change', () => {
    const { plan: p } = plan(
      [event('u', row(1, 30n, 'mysql'), 20n), event('u', row(1, 40n, 'mysql'), 30n)],
      { rows: [stored(1, 20n, 'postgres')] },
      'postgres-wins',
    );
    assert.deepEqual(p.upserts.map((r) => r.version), [40n]);
    assert.equal(p.conflicts.length, 0);
  });

  it('a re-publish (backfill) applies only what the target lacks and never claims a conflict', () => {
    const { plan: p } = plan([event('r', row(1, 10n, 'mysql'), 10n), event('r', row(2, 10n, 'mysql'), 10n)], {
      rows: [stored(1, 15n, 'postgres')],
    });
    assert.deepEqual(p.upserts.map((r) => r.id), [2]);
    assert.equal(p.conflicts.length, 0);
  });

  it('an email taken by a newer incoming row displaces the stale holder', () => {
    const { plan: p } = plan([event('c', row(2, 50n, 'mysql', 'x@x.io'))], {
      emailHolders: [stored(1, 10n, 'mysql', 'x@x.io')],
    });
    assert.deepEqual(p.displaced, [1]);
    assert.equal(p.upserts.length, 1);
  });

  it('a holder moving to another email in the same batch has its email parked first', () => {
    const { plan: p } = plan(
      [event('u', row(1, 50n, 'mysql', 'y@x.io'), 10n), event('u', row(2, 51n, 'mysql', 'x@x.io'), 10n)],
      { rows: [stored(1, 10n, 'mysql', 'x@x.io'), stored(2, 10n, 'mysql', 'y@x.io')], emailHolders: [stored(1, 10n, 'mysql', 'x@x.io'), stored(2, 10n, 'mysql', 'y@x.io')] },
    );
    assert.deepEqual(p.parkEmails.sort(), [1, 2]);
    assert.equal(p.displaced.length, 0);
    assert.equal(p.upserts.length, 2);
  });

  it('the same email created on both sides: the policy picks one and the conflict is recorded', () => {
    const { plan: p } = plan([event('c', row(5, 40n, 'mysql', 'same@x.io'))], {
      emailHolders: [stored(-3, 45n, 'postgres', 'same@x.io')],
    });
    assert.equal(p.upserts.length, 0);
    assert.equal(p.conflicts[0]?.kind, 'email');
    assert.equal(p.conflicts[0]?.outcome, 'local-kept');
  });
});

describe('planBatch properties', () => {
  type State = { version: bigint; origin: StoreName; row: boolean } | null;
  const origins: StoreName[] = ['mysql', 'postgres'];
  const arbitraryEvent = fc.record({
    op: fc.constantFrom('c', 'u', 'd', 'r') as fc.Arbitrary<EmployeeChangedEvent['op']>,
    version: fc.bigInt({ min: 1n, max: 12n }),
    origin: fc.constantFrom(...origins),
    base: fc.option(fc.bigInt({ min: 0n, max: 12n }), { nil: null }),
  });
  const arbitraryState: fc.Arbitrary<State> = fc.option(
    fc.record({ version: fc.bigInt({ min: 1n, max: 12n }), origin: fc.constantFrom(...origins), row: fc.boolean() }),
    { nil: null },
  );

  /** Events of row 7; a null base means "built on the previous event" (a chain). */
  function events(specs: { op: EmployeeChangedEvent['op']; version: bigint; origin: StoreName; base: bigint | null }[]) {
    let previous = 0n;
    return specs.map((spec, i) => {
      const built = event(spec.op, row(7, spec.version, spec.origin), spec.base ?? previous);
      previous = spec.version;
      return { ...built, offset: BigInt(i) };
    });
  }

  function current(state: State) {
    if (!state) return {};
    return state.row ? { rows: [stored(7, state.version, state.origin)] } : { tombstones: [{ id: 7, version: state.version, origin: state.origin }] };
  }

  function after(state: State, p: ReturnType<typeof plan>['plan']): State {
    const upsert = p.upserts.find((r) => r.id === 7);
    if (upsert) return { version: upsert.version, origin: upsert.origin, row: true };
    const removed = p.deletes.find((d) => d.id === 7);
    if (removed) return { version: removed.version, origin: removed.origin, row: false };
    return state;
  }

  for (const policy of ['newer-wins', 'mysql-wins', 'postgres-wins'] as const) {
    it(`a batch decides exactly what applying its events one by one decides (${policy})`, () => {
      fc.assert(
        fc.property(arbitraryState, fc.array(arbitraryEvent, { minLength: 1, maxLength: 8 }), (initial, specs) => {
          const batch = events(specs);
          const together = plan(batch, current(initial), policy).plan;
          let state = initial;
          let conflicts = 0;
          for (const single of batch) {
            const step = plan([single], current(state), policy).plan;
            conflicts += step.conflicts.length;
            state = after(state, step);
          }
          assert.deepEqual(after(initial, together), state);
          assert.equal(together.conflicts.length, conflicts);
        }),
        { numRuns: 2000 },
      );
    });
  }

  it('an equal-version duplicate inside a chain neither breaks the chain nor makes a conflict', () => {
    for (const policy of ['newer-wins', 'mysql-wins', 'postgres-wins'] as const) {
      // MySQL holds v10 (its own); PostgreSQL changes it twice, and a relay restart delivers events again.
      const first = event('u', row(1, 20n, 'postgres'), 10n);
      const second = event('u', row(1, 30n, 'postgres'), 20n);
      const again = (e: PositionedEvent) => ({ ...e, offset: offset++ });
      for (const batch of [[first, again(first), second], [first, second, again(second)], [first, second, again(first), again(second)]]) {
        const p = planBatch({
          target: 'mysql',
          policy,
          consumerGroup: 'g',
          events: batch,
          offsets: [],
          logId: 'cluster/topic',
          current: { rows: [stored(1, 10n, 'mysql')], tombstones: [], emailHolders: [] },
        }).plan;
        assert.deepEqual(p.upserts.map((r) => r.version), [30n], policy);
        assert.equal(p.conflicts.length, 0, policy);
      }
    }
  });

  it('its own change coming back never undoes a later change from the other side', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: 100n }), fc.bigInt({ min: 1n, max: 100n }), fc.constantFrom('c', 'u', 'd') as fc.Arbitrary<'c' | 'u' | 'd'>, (own, other, op) => {
        const p = plan([event(op, row(3, own, 'postgres'), 0n)], { rows: [stored(3, other, 'mysql')] }).plan;
        assert.equal(p.upserts.length + p.deletes.length + p.conflicts.length, 0);
      }),
    );
  });
});
