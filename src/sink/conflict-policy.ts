// Conflict resolution: which of two concurrent versions of one row wins. Pure, and identical on both
// sides, so both databases pick the same winner and converge.
import type { StoreName } from '../store/types.ts';

export type ConflictPolicy = 'newer-wins' | 'mysql-wins' | 'postgres-wins';

export interface VersionedSide {
  version: bigint;
  origin: StoreName;
}

/** True when `incoming` beats `local` under `policy`. Equal versions break ties by origin (mysql first). */
export function incomingWins(policy: ConflictPolicy, incoming: VersionedSide, local: VersionedSide): boolean {
  if (incoming.origin !== local.origin) {
    if (policy === 'mysql-wins') return incoming.origin === 'mysql';
    if (policy === 'postgres-wins') return incoming.origin === 'postgres';
  }
  if (incoming.version !== local.version) return incoming.version > local.version;
  return incoming.origin === 'mysql' && local.origin !== 'mysql';
}
