// The id of a captured change, derived from what the change is rather than drawn at random: a name-based
// UUID (version 5) of the store that captured it, its table, op, row id and version. The capture triggers
// then write no id (MySQL's UUID() was a fifth of a 50-row transaction's capture cost): the relay names
// each outbox row as it reads it, the same name every time it reads it again (a re-publish after a crash
// carries the id it had). Two changes the sinks would tell apart never share one: a row's versions only
// grow, and its create, update and delete at one version (an id change) differ by op.
import { v5 as uuidv5 } from 'uuid';
import type { ChangeOp, StoreName } from './types.ts';

/** empsync's namespace for event ids (fixed: the same change gets the same id in every release). */
const eventNamespace = '09b0e73f-657e-483b-a042-11db9954ffb4';

export function changeEventId(store: StoreName, table: string, op: ChangeOp, id: number, version: bigint): string {
  return uuidv5(`${store}/${table}/${op}/${id}/${version}`, eventNamespace);
}
