// Subscription `employeChanged`: every create, update and delete that reaches the topic `employes-sync`
// (from either store, by the API or plain SQL), streamed over SSE. Fed by this process's Kafka consumer
// (employee-change-feed.ts), never by polling a database; changes before the subscription are not replayed.
import { filter, pipe } from 'graphql-yoga';
import type { EmployeeChange } from './employee-change-feed.ts';
import { builder } from './builder.ts';
import { EmployeType } from './employee-type.ts';
import './date-time-scalar.ts';

const opNames = { c: 'CREATE', u: 'UPDATE', d: 'DELETE' } as const;

const EmployeChangeOp = builder.enumType('EmployeChangeOp', {
  values: ['CREATE', 'UPDATE', 'DELETE'] as const,
});

const EmployeChangeType = builder.objectRef<EmployeeChange>('EmployeChange').implement({
  description: 'One change of an employee, as published to Kafka.',
  fields: (t) => ({
    op: t.field({ type: EmployeChangeOp, resolve: (change) => opNames[change.op] }),
    employe: t.field({
      type: EmployeType,
      description: 'The row after the change; for DELETE, the row before it.',
      resolve: (change) => change.row,
    }),
    origin: t.string({ description: 'mysql or postgres.', resolve: (change) => change.row.origin }),
    version: t.string({ resolve: (change) => change.row.version.toString() }),
    committedAt: t.field({ type: 'DateTime', resolve: (change) => change.committedAt }),
    eventId: t.exposeString('eventId'),
  }),
});

builder.subscriptionType({
  fields: (t) => ({
    employeChanged: t.field({
      type: EmployeChangeType,
      description: 'Changes of employees (of one department when given), from now on. Send `accept: text/event-stream`.',
      args: { department: t.arg.string({ required: false }) },
      subscribe: async (_root, args, ctx) => {
        // Join the topic before answering, so the stream is live when the client gets its headers.
        await ctx.changeFeed.start();
        const changes = ctx.changeFeed.pubSub.subscribe('employeChanged');
        const department = args.department;
        const stream = department == null ? changes : pipe(changes, filter((change) => change.row.department === department));
        // A stream opened with a token ends when the token expires: the client must come back with a new one.
        const expiresAt = ctx.principal.expiresAt;
        return expiresAt === undefined ? stream : endAt(stream, expiresAt);
      },
      resolve: (change) => change,
    }),
  }),
});

/** The items of `source` until the moment `at` (ms since the epoch), then the end of the stream. */
async function* endAt<T>(source: AsyncIterable<T>, at: number): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    timer = setTimeout(() => resolve('expired'), Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
  });
  try {
    for (;;) {
      const next = await Promise.race([iterator.next(), expired]);
      if (next === 'expired' || next.done) return;
      yield next.value;
    }
  } finally {
    clearTimeout(timer);
    await iterator.return?.();
  }
}
