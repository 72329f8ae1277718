// Loading employees by id. Each request gets its own DataLoader (batches the ids one document asks for,
// and caches them for that request only), backed by one loader per store shared by all requests: the
// ids asked for by the requests being handled in the same turn of the event loop go to the database as
// one query (`setImmediate`: after every request read in this turn has reached its resolvers). Under
// load this turns dozens of single-row queries into one; an idle server pays nothing but that turn.
import { setImmediate } from 'node:timers';
import DataLoader from 'dataloader';
import type { EmployeeView } from '../store/types.ts';

export type EmployeeLoader = DataLoader<number, EmployeeView | null>;

const maxIdsPerQuery = 1000;

/** The loader shared by all requests: batches across them, caches nothing. */
export function sharedEmployeeLoader(
  find: (ids: readonly number[]) => Promise<EmployeeView[]>,
): EmployeeLoader {
  return new DataLoader(
    async (ids) => {
      const rows = await find(ids);
      const byId = new Map(rows.map((row) => [row.id, row]));
      return ids.map((id) => byId.get(id) ?? null);
    },
    { cache: false, maxBatchSize: maxIdsPerQuery, batchScheduleFn: (run) => setImmediate(run) },
  );
}

/** A request's loader: its own cache (a document sees one version of a row), batches through `shared`. */
export function requestEmployeeLoader(shared: EmployeeLoader): EmployeeLoader {
  return new DataLoader((ids) => shared.loadMany(ids));
}
