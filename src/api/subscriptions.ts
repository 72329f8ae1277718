// Subscription `employeChanged`: every create, update and delete that reaches the topic `employes-sync`
// (from either store, by the API or plain SQL), streamed over SSE. Fed by this process's Kafka consumer
// (employee-change-feed.ts), never by polling a database; changes before the subscription are not replayed.
import { GraphQLError } from 'graphql';
import { ErrorCodes } from '../errors.ts';
import type { ApiContext } from './builder.ts';
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
        const release = admitStream(ctx);
        // Join the topic before answering, so the stream is live when the client gets its headers.
        await ctx.changeFeed.start().catch((error: unknown) => {
          release();
          throw error;
        });
        const changes = ctx.changeFeed.pubSub.subscribe('employeChanged');
        const department = args.department;
        const stream = department == null ? changes : pipe(changes, filter((change) => change.row.department === department));
        return boundedStream(ctx, stream, release);
      },
      resolve: (change) => change,
    }),
  }),
});

/**
 * A subscription's stream under the limits every stream has: counted against SSE_MAX_STREAMS (total and
 * per caller) from now until it ends or the client leaves, and ended when the caller's token expires.
 */
export function boundedStream<T>(ctx: ApiContext, stream: AsyncIterable<T>, admitted?: () => void): AsyncIterableIterator<T> {
  const release = admitted ?? admitStream(ctx);
  // A stream opened with a token ends when the token expires: the client must come back with a new one.
  const expiresAt = ctx.principal.expiresAt;
  // The client left (the HTTP layer aborts the request): the slot is free at once.
  (ctx as unknown as { request?: Request }).request?.signal.addEventListener('abort', release, { once: true });
  return releasing(expiresAt === undefined ? stream : endAt(stream, expiresAt), release);
}

/** Now, then every `intervalMs`, until returned (at once: no tick is waited for). */
export function ticks(intervalMs: number): AsyncIterableIterator<number> {
  let timer: NodeJS.Timeout | undefined;
  let pending: ((result: IteratorResult<number>) => void) | null = null;
  let first = true;
  let done = false;
  return {
    next() {
      if (done) return Promise.resolve({ done: true, value: undefined });
      return new Promise((resolve) => {
        pending = resolve;
        timer = setTimeout(() => {
          pending = null;
          resolve({ done: false, value: Date.now() });
        }, first ? 0 : intervalMs);
        first = false;
      });
    },
    async return() {
      done = true;
      clearTimeout(timer);
      pending?.({ done: true, value: undefined });
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The items of `source` until the moment `at` (ms since the epoch), then the end of the stream. An
 * iterator rather than an async generator: a generator's return() waits for its pending next(), so a
 * client that leaves would hold its slot until the next event.
 */
function endAt<T>(source: AsyncIterable<T>, at: number): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<IteratorResult<T>>((resolve) => {
    timer = setTimeout(() => resolve({ done: true, value: undefined }), Math.min(2 ** 31 - 1, Math.max(0, at - Date.now())));
  });
  const end = async (): Promise<IteratorResult<T>> => {
    clearTimeout(timer);
    await iterator.return?.();
    return { done: true, value: undefined };
  };
  return {
    async next() {
      const next = await Promise.race([iterator.next(), expired]);
      return next.done ? end() : next;
    },
    return: end,
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/** Open streams of one API process (its change feed): in total and per caller. */
const openStreams = new WeakMap<object, { total: number; byCaller: Map<string, number> }>();

/**
 * Counts a new stream, or refuses it with TOO_MANY_STREAMS past SSE_MAX_STREAMS in total or
 * SSE_MAX_STREAMS_PER_CALLER for its caller (the credential's subject; all anonymous callers share one
 * count). Returns the release, to call once when the stream ends.
 */
function admitStream(ctx: ApiContext): () => void {
  const { SSE_MAX_STREAMS, SSE_MAX_STREAMS_PER_CALLER } = ctx.app.config;
  const counts = openStreams.get(ctx.changeFeed) ?? { total: 0, byCaller: new Map<string, number>() };
  openStreams.set(ctx.changeFeed, counts);
  const caller = ctx.principal.subject ?? ctx.principal.via;
  const mine = counts.byCaller.get(caller) ?? 0;
  if (counts.total >= SSE_MAX_STREAMS || mine >= SSE_MAX_STREAMS_PER_CALLER) {
    throw new GraphQLError(
      counts.total >= SSE_MAX_STREAMS
        ? `This server holds ${SSE_MAX_STREAMS} open subscriptions already: try again later.`
        : `At most ${SSE_MAX_STREAMS_PER_CALLER} open subscriptions per caller: close one first.`,
      { extensions: { code: ErrorCodes.TOO_MANY_STREAMS, http: { status: 429, headers: { 'retry-after': '30' } } } },
    );
  }
  counts.total += 1;
  counts.byCaller.set(caller, mine + 1);
  let released = false;
  return () => {
    if (released) return;
    released = true;
    counts.total -= 1;
    const left = (counts.byCaller.get(caller) ?? 1) - 1;
    if (left > 0) counts.byCaller.set(caller, left);
    else counts.byCaller.delete(caller);
  };
}

/** The items of `source`; `release` runs once when the stream ends, however it ends (at once on return()). */
function releasing<T>(source: AsyncIterable<T>, release: () => void): AsyncIterableIterator<T> {
  const iterator = source[Symbol.asyncIterator]();
  return {
    next: () =>
      iterator.next().then(
        (result) => {
          if (result.done) release();
          return result;
        },
        (error: unknown) => {
          release();
          throw error;
        },
      ),
    async return() {
      release();
      await iterator.return?.();
      return { done: true, value: undefined };
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
