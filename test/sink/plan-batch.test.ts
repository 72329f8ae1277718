import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planBatch, type PositionedEvent } from '../../src/sink/plan-batch.ts';
import type { StoreName, StoredVersion, SyncedRow, UniqueHolder } from '../../src/store/types.ts';
import { employesTable } from '../../src/tables/employes.ts';
import { declaredSchema } from '../../src/tables/table-schema.ts';
import type { ChangeEvent } from '../../src/transport/envelope.ts';

const schema = declaredSchema(employesTable('employes-sync'));
const at = '2026-01-01T00:00:00.000000Z';
const row = (id: number, version: bigint, origin: StoreName, email = `e${id}@x.io`): SyncedRow => ({
  id,
  version,
  origin,
  values: { nom: 'N', prenom: 'P', email, poste: 'Dev', salaire: '100.00', department: 'IT', date_embauche: at, created_at: at, updated_at: at },
});

let offset = 0n;
const event = (op: ChangeEvent['op'], r: SyncedRow, baseVersion = 0n): PositionedEvent => ({
  event: {
    eventId: `00000000-0000-4000-8000-${String(offset).padStart(12, '0')}`,
    table: 'employes',
    schemaVersion: schema.version,
    op,
    row: r,
    baseVersion,
    committedAt: at,
  },
  partition: 0,
  offset: offset++,
});
// The email parameter keeps call sites readable; the version guard reads emails from the holders only.
const stored = (id: number, version: bigint, origin: StoreName, _email = `e${id}@x.io`, seen = 0n): StoredVersion => ({ id, version, origin, seen });
const holder = (id: number, version: bigint, origin: StoreName, email: string): UniqueHolder => ({
  id,
  version,
  origin,
  seen: 0n,
  column: 'email',
  value: email,
});

const plan = (events: PositionedEvent[], current: Partial<Parameters<typeof planBatch>[0]['current']> = {}, policy: 'newer-wins' | 'mysql-wins' | 'postgres-wins' = 'newer-wins') =>
  planBatch({
    schema,
    target: 'postgres',
    policy,
    consumerGroup: 'g',
    events,
    offsets: [],
    logId: 'cluster/topic',
    current: { rows: [], tombstones: [], uniqueHolders: [], ...current },
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
    const { plan: p } = plan([event('u', row(1, 10n, 'mysql'), 5n)], { tombstones: [{ id: 1, version: 11n, origin: 'mysql', seen: 0n }] });
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
      schema,
      target: 'mysql',
      policy: 'mysql-wins',
      consumerGroup: 'g',
      events: [event('u', row(1, 50n, 'postgres'), 40n)],
      offsets: [],
      logId: 'cluster/topic',
      current: { rows: [stored(1, 30n, 'mysql')], tombstones: [], uniqueHolders: [] },
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
      uniqueHolders: [holder(1, 10n, 'mysql', 'x@x.io')],
    });
    assert.deepEqual(p.displaced, [1]);
    assert.equal(p.upserts.length, 1);
  });

  it('a holder moving to another email in the same batch has its email parked first', () => {
    const { plan: p } = plan(
      [event('u', row(1, 50n, 'mysql', 'y@x.io'), 10n), event('u', row(2, 51n, 'mysql', 'x@x.io'), 10n)],
      { rows: [stored(1, 10n, 'mysql', 'x@x.io'), stored(2, 10n, 'mysql', 'y@x.io')], uniqueHolders: [holder(1, 10n, 'mysql', 'x@x.io'), holder(2, 10n, 'mysql', 'y@x.io')] },
    );
    assert.deepEqual(p.parkUnique.flatMap((u) => u.ids).sort(), [1, 2]);
    assert.equal(p.displaced.length, 0);
    assert.equal(p.upserts.length, 2);
  });

  it('the same email created on both sides: the policy picks one and the conflict is recorded', () => {
    const { plan: p } = plan([event('c', row(5, 40n, 'mysql', 'same@x.io'))], {
      uniqueHolders: [holder(-3, 45n, 'postgres', 'same@x.io')],
    });
    assert.equal(p.upserts.length, 0);
    assert.equal(p.conflicts[0]?.kind, 'email');
    assert.equal(p.conflicts[0]?.outcome, 'local-kept');
  });
});

describe('planBatch properties', () => {
  type State = { version: bigint; origin: StoreName; row: boolean; seen: bigint } | null;
  const origins: StoreName[] = ['mysql', 'postgres'];
  const arbitraryEvent = fc.record({
    op: fc.constantFrom('c', 'u', 'd', 'r') as fc.Arbitrary<ChangeEvent['op']>,
    version: fc.bigInt({ min: 1n, max: 12n }),
    origin: fc.constantFrom(...origins),
    base: fc.option(fc.bigInt({ min: 0n, max: 12n }), { nil: null }),
  });
  const arbitraryState: fc.Arbitrary<State> = fc.option(
    fc.record({
      version: fc.bigInt({ min: 1n, max: 12n }),
      origin: fc.constantFrom(...origins),
      row: fc.boolean(),
      seen: fc.bigInt({ min: 0n, max: 12n }),
    }),
    { nil: null },
  );

  /**
   * Events of row 7; a null base means "built on the previous event" (a chain). As with the hybrid
   * logical clock, a change's version is above the version it was built on.
   */
  function events(specs: { op: ChangeEvent['op']; version: bigint; origin: StoreName; base: bigint | null }[]) {
    let previous = 0n;
    return specs.map((spec, i) => {
      const base = spec.base ?? previous;
      const version = spec.version > base ? spec.version : base + 1n;
      const built = event(spec.op, row(7, version, spec.origin), base);
      previous = version;
      return { ...built, offset: BigInt(i) };
    });
  }

  function current(state: State) {
    if (!state) return {};
    return state.row
      ? { rows: [stored(7, state.version, state.origin, 'e7@x.io', state.seen)] }
      : { tombstones: [{ id: 7, version: state.version, origin: state.origin, seen: state.seen }] };
  }

  function after(state: State, p: ReturnType<typeof plan>['plan']): State {
    const upsert = p.upserts.find((r) => r.id === 7);
    const seen = p.seen.get(7) ?? 0n;
    if (upsert) return { version: upsert.version, origin: upsert.origin, row: true, seen };
    const removed = p.deletes.find((d) => d.id === 7);
    if (removed) return { version: removed.version, origin: removed.origin, row: false, seen };
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

  for (const policy of ['newer-wins', 'mysql-wins', 'postgres-wins'] as const) {
    it(`delivering an applied change again, later, changes nothing and claims no conflict (${policy})`, () => {
      fc.assert(
        fc.property(
          arbitraryState,
          fc.array(arbitraryEvent, { minLength: 1, maxLength: 8 }),
          fc.array(fc.tuple(fc.nat(), fc.nat()), { maxLength: 4 }),
          (initial, specs, copies) => {
            const once = (batch: PositionedEvent[]) => {
              let state = initial;
              let conflicts = 0;
              const applied: number[] = [];
              batch.forEach((single, i) => {
                const step = plan([single], current(state), policy).plan;
                conflicts += step.conflicts.length;
                // Copies of changes from the other store (the target is PostgreSQL): what a relay that
                // crashed between publish and delete sends again. Re-publishes ('r') are left out: a
                // re-publish is the source's state, applied whenever newer.
                const remote = single.event.row.origin !== 'postgres' && single.event.op !== 'r';
                if (step.upserts.length + step.deletes.length && remote) applied.push(i);
                state = after(state, step);
              });
              return { state, conflicts, applied };
            };
            const batch = events(specs);
            const first = once(batch);
            if (first.applied.length === 0) return;
            // Each copy: an applied event delivered again somewhere after it (a relay that published twice).
            const keyed = batch.map((e, i) => ({ e, key: i }));
            for (const [pick, at] of copies) {
              const original = first.applied[pick % first.applied.length]!;
              keyed.push({ e: batch[original]!, key: original + 0.5 + (at % (batch.length - original)) });
            }
            const withCopies = keyed.sort((a, b) => a.key - b.key).map(({ e }, i) => ({ ...e, offset: BigInt(i) }));
            const again = once(withCopies);
            assert.deepEqual(again.state, first.state);
            assert.equal(again.conflicts, first.conflicts);
          },
        ),
        { numRuns: 2000 },
      );
    });
  }

  it('a late duplicate of a change the row went past is stale under every policy (a relay republished it)', () => {
    for (const policy of ['newer-wins', 'mysql-wins', 'postgres-wins'] as const) {
      // MySQL applied PostgreSQL's v20 (built on v10), then changed the row itself (v30, having seen v20).
      const current = { rows: [stored(8, 30n, 'mysql', 'e8@x.io', 20n)] };
      for (const late of [event('u', row(8, 20n, 'postgres'), 10n), event('u', row(8, 10n, 'postgres'), 5n)]) {
        const p = planBatch({
          schema, target: 'mysql', policy, consumerGroup: 'g', events: [late], offsets: [], logId: 'cluster/topic',
          current: { tombstones: [], uniqueHolders: [], ...current },
        });
        assert.equal(p.plan.upserts.length, 0, policy);
        assert.equal(p.plan.conflicts.length, 0, policy);
        assert.equal(p.stats.stale, 1, policy);
      }
      // A change PostgreSQL made after v20, unseen by MySQL, is concurrent: the policy decides.
      const concurrent = planBatch({
        schema, target: 'mysql', policy, consumerGroup: 'g', events: [event('u', row(8, 25n, 'postgres'), 20n)], offsets: [],
        logId: 'cluster/topic', current: { tombstones: [], uniqueHolders: [], ...current },
      });
      assert.equal(concurrent.plan.conflicts.length, 1, policy);
      assert.equal(concurrent.plan.upserts.length, policy === 'postgres-wins' ? 1 : 0, policy);
    }
  });

  it('an equal-version duplicate inside a chain neither breaks the chain nor makes a conflict', () => {
    for (const policy of ['newer-wins', 'mysql-wins', 'postgres-wins'] as const) {
      // MySQL holds v10 (its own); PostgreSQL changes it twice, and a relay restart delivers events again.
      const first = event('u', row(1, 20n, 'postgres'), 10n);
      const second = event('u', row(1, 30n, 'postgres'), 20n);
      const again = (e: PositionedEvent) => ({ ...e, offset: offset++ });
      for (const batch of [[first, again(first), second], [first, second, again(second)], [first, second, again(first), again(second)]]) {
        const p = planBatch({
          schema,
          target: 'mysql',
          policy,
          consumerGroup: 'g',
          events: batch,
          offsets: [],
          logId: 'cluster/topic',
          current: { rows: [stored(1, 10n, 'mysql')], tombstones: [], uniqueHolders: [] },
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
