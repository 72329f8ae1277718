// Parked events across both stores, for `empsync dlq list|replay` and the admin GraphQL operations:
// the relay's (a value the other engine cannot store) and the sinks' (an event a store could not
// apply). Replay sends each through its stage again: the relay re-publishes the row as it is now,
// a sink applies the parked message through its version guard.
import { EmpsyncError, ErrorCodes } from '../errors.ts';
import { replayRelayDeadLetter } from '../relay/dead-letter-replay.ts';
import type { ConflictPolicy } from '../sink/conflict-policy.ts';
import { replaySinkDeadLetter } from '../sink/dead-letter-replay.ts';
import type { Stores } from '../store/create-stores.ts';
import { storeNames, type ReplayResult, type StoreName, type StoredDeadLetter } from '../store/types.ts';
import type { SchemaSource } from '../tables/table-schema.ts';

/** A dead letter's public id: `<store>:<id>` (ids are per store). */
export const deadLetterKey = (letter: Pick<StoredDeadLetter, 'store' | 'id'>) => `${letter.store}:${letter.id}`;

export function parseDeadLetterKey(text: string): { store: StoreName; id: bigint } {
  const match = /^(mysql|postgres):(\d{1,19})$/.exec(text.trim());
  if (!match) {
    throw new EmpsyncError(ErrorCodes.BAD_USER_INPUT, `dead letter id "${text}" is not <mysql|postgres>:<number>`, {
      details: { field: 'id' },
    });
  }
  return { store: match[1] as StoreName, id: BigInt(match[2]!) };
}

/** Dead letters of both stores, oldest first: the parked ones, or all of them with `includeReplayed`. */
export async function listDeadLetters(
  stores: Stores,
  options: { includeReplayed?: boolean; limit?: number } = {},
): Promise<StoredDeadLetter[]> {
  const limit = options.limit ?? 1000;
  const lists = await Promise.all(
    storeNames.map((name) => stores[name].deadLetters.list({ limit, ...(options.includeReplayed ? {} : { status: 'parked' as const }) })),
  );
  return lists
    .flat()
    .sort((a, b) => (a.firstSeenAt < b.firstSeenAt ? -1 : a.firstSeenAt > b.firstSeenAt ? 1 : 0))
    .slice(0, limit);
}

/** Replays every parked dead letter (`all`) or the given ones (replayed ones too: the version guard makes it idempotent). */
export async function replayDeadLetters(
  stores: Stores,
  schemas: SchemaSource,
  policy: ConflictPolicy,
  selection: { all: true } | { keys: string[] },
): Promise<ReplayResult[]> {
  const letters: StoredDeadLetter[] = [];
  if ('all' in selection) {
    for (const name of storeNames) {
      // Page through: a replay that fails leaves its letter parked, so paging is by id.
      for (let after: bigint | undefined; ; ) {
        const page = await stores[name].deadLetters.list({ status: 'parked', limit: 500, ...(after === undefined ? {} : { afterId: after }) });
        letters.push(...page);
        if (page.length < 500) break;
        after = page.at(-1)!.id;
      }
    }
  } else {
    const wanted = selection.keys.map(parseDeadLetterKey);
    for (const name of storeNames) {
      const ids = wanted.filter((w) => w.store === name).map((w) => w.id);
      if (ids.length) letters.push(...(await stores[name].deadLetters.list({ ids, limit: ids.length })));
    }
    const found = new Set(letters.map(deadLetterKey));
    const missing = wanted.map(deadLetterKey).filter((key) => !found.has(key));
    if (missing.length) {
      throw new EmpsyncError(ErrorCodes.NOT_FOUND, `no dead letter ${missing.join(', ')}`, { details: { ids: missing } });
    }
  }
  const results: ReplayResult[] = [];
  for (const letter of letters) {
    const store = stores[letter.store];
    results.push(
      letter.stage === 'relay'
        ? await replayRelayDeadLetter(store, schemas, letter)
        : await replaySinkDeadLetter(store, schemas, letter, policy),
    );
  }
  return results;
}
