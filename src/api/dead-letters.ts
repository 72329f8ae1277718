// deadLetters and replayDeadLetters: parked events of both stores (values the other engine cannot
// store, events a store could not apply), and their replay through their stage once fixed. Admin
// only: a parked event holds the whole row, salary included, and a replay writes to a store.
import type { ReplayResult, StoredDeadLetter } from '../store/types.ts';
import { requireRole } from './authentication.ts';
import { builder } from './builder.ts';
import { badUserInput } from './employee-input.ts';
import './date-time-scalar.ts';

export const maxDeadLetters = 1000;

const DeadLetterType = builder.objectRef<StoredDeadLetter>('DeadLetter').implement({
  description: 'An event a stage parked instead of stalling: it waits here, with its reason, until replayed.',
  fields: (t) => ({
    id: t.string({ description: '`<store>:<number>`: what replayDeadLetters takes.', resolve: (l) => `${l.store}:${l.id}` }),
    store: t.exposeString('store', { description: 'The store that keeps it.' }),
    stage: t.exposeString('stage', {
      description: 'relay: the change could not be carried (a value the other database cannot store); sink: the event could not be applied.',
    }),
    code: t.exposeString('code', { description: 'EMPSYNC_VALUE_NOT_PORTABLE, EMPSYNC_EVENT_INVALID or EMPSYNC_APPLY_REJECTED (docs/errors.md).' }),
    reason: t.exposeString('reason'),
    status: t.exposeString('status', { description: 'parked or replayed.' }),
    employeId: t.int({ nullable: true, resolve: (l) => l.employeId }),
    op: t.string({ nullable: true, description: 'c, u, d or r.', resolve: (l) => l.op }),
    version: t.string({ nullable: true, description: 'The version the parked change carries.', resolve: (l) => l.version?.toString() ?? null }),
    origin: t.string({ nullable: true, resolve: (l) => l.origin }),
    currentVersion: t.string({
      nullable: true,
      description: 'The version the store holds now for the row (null: no row).',
      resolve: (l) => l.currentVersion?.toString() ?? null,
    }),
    superseded: t.boolean({
      description: 'True when the store already holds a newer version of the row: a replay would change nothing.',
      resolve: (l) => l.version !== null && l.currentVersion !== null && l.currentVersion > l.version,
    }),
    firstSeenAt: t.field({ type: 'DateTime', resolve: (l) => l.firstSeenAt }),
    lastSeenAt: t.field({ type: 'DateTime', resolve: (l) => l.lastSeenAt }),
    seenCount: t.exposeInt('seenCount'),
    resolvedAt: t.field({ type: 'DateTime', nullable: true, resolve: (l) => l.resolvedAt }),
    lastError: t.string({ nullable: true, description: 'Why the last replay did not go through.', resolve: (l) => l.lastError }),
    source: t.string({ description: 'Where it came from, as JSON (topic, partition, offset, log; or the outbox sequence).', resolve: (l) => JSON.stringify(l.source) }),
    payload: t.string({
      description: 'The event as it was (base64 when its bytes are not UTF-8, see payloadEncoding).',
      resolve: (l) => l.payload,
    }),
    payloadEncoding: t.exposeString('payloadEncoding'),
  }),
});

const DeadLetterReplayType = builder.objectRef<ReplayResult>('DeadLetterReplay').implement({
  description: 'What replaying one parked event did.',
  fields: (t) => ({
    id: t.string({ resolve: (r) => `${r.store}:${r.id}` }),
    outcome: t.exposeString('outcome', {
      description:
        'applied (written through the version guard), superseded (the store holds a newer version), requeued (the row is re-published as it is now), gone (the row no longer exists), failed (still refused: it stays parked, see detail).',
    }),
    detail: t.exposeString('detail'),
  }),
});

builder.queryFields((t) => ({
  deadLetters: t.field({
    type: [DeadLetterType],
    description: `Parked events of both stores, oldest first (limit 1–${maxDeadLetters}). Needs the role admin.`,
    args: {
      includeReplayed: t.arg.boolean({ required: false, defaultValue: false }),
      limit: t.arg.int({ required: false, defaultValue: 100 }),
    },
    resolve: async (_root, args, ctx) => {
      requireRole(ctx.principal, 'admin', 'deadLetters');
      const limit = args.limit ?? 100;
      if (limit < 1 || limit > maxDeadLetters) throw badUserInput('limit', `limit must be between 1 and ${maxDeadLetters}.`);
      return ctx.app.deadLetters.list({ includeReplayed: args.includeReplayed ?? false, limit });
    },
  }),
}));

builder.mutationFields((t) => ({
  replayDeadLetters: t.field({
    type: [DeadLetterReplayType],
    description: 'Re-injects parked events through their stage (idempotent: the version guard decides). Give `ids` or `all: true`. Needs the role admin.',
    args: {
      ids: t.arg.stringList({ required: false }),
      all: t.arg.boolean({ required: false }),
    },
    resolve: async (_root, args, ctx) => {
      requireRole(ctx.principal, 'admin', 'replayDeadLetters');
      if (args.all && args.ids?.length) throw badUserInput('ids', 'Give ids or all: true, not both.');
      if (args.all) return ctx.app.deadLetters.replay({ all: true });
      if (!args.ids?.length) throw badUserInput('ids', 'Give the ids of the dead letters to replay, or all: true.');
      if (args.ids.length > maxDeadLetters) throw badUserInput('ids', `At most ${maxDeadLetters} ids at once.`);
      return ctx.app.deadLetters.replay({ keys: args.ids });
    },
  }),
}));
