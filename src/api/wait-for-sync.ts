// Read-your-writes for mutations (`waitForSync: true`): after MySQL commits, wait — bounded — until the
// read model (PostgreSQL) holds the mutation's version, or no longer holds a deleted row. On timeout the
// mutation answers normally: the write is committed and will arrive; the caller only waited in vain.
import { setTimeout as sleep } from 'node:timers/promises';
import type { Store } from '../store/ports.ts';

export const syncWaitTimeoutMs = 5000;
export const syncWaitStepMs = 5;

/** Resolves true once `check` holds, false after `timeoutMs`. */
async function pollUntil(check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (performance.now() >= deadline) return false;
    await sleep(syncWaitStepMs);
  }
}

/** Waits until `readModel` holds row `id` at `version` or later (a later change also satisfies the read). */
export function waitForVersion(readModel: Store, id: number, version: bigint, timeoutMs = syncWaitTimeoutMs): Promise<boolean> {
  return pollUntil(async () => ((await readModel.employees.find(id))?.version ?? -1n) >= version, timeoutMs);
}

/** Waits until `readModel` no longer holds row `id`. */
export function waitForAbsence(readModel: Store, id: number, timeoutMs = syncWaitTimeoutMs): Promise<boolean> {
  return pollUntil(async () => (await readModel.employees.find(id)) === null, timeoutMs);
}
