// Wake-ups of a relay in this process: a store emits 'write' on its emitter after committing a captured
// change (an API write, a backfill chunk), and a waiting relay reads the outbox at once instead of at its
// next poll.
import { EventEmitter, once } from 'node:events';

export function localWritesEmitter(): EventEmitter {
  const emitter = new EventEmitter();
  emitter.setMaxListeners(0);
  return emitter;
}

/**
 * Resolves true on the first `event`, false after `timeoutMs`. (A relay lease emits its event when its
 * session is lost, rather than this racing a long-lived `lost` promise: every race would leave a
 * reaction on that promise until it settles, one more per idle poll.)
 */
export async function waitForEvent(emitter: EventEmitter, event: string, timeoutMs: number): Promise<boolean> {
  try {
    await once(emitter, event, { signal: AbortSignal.timeout(timeoutMs) });
    return true;
  } catch {
    // timed out: the caller polls as a backstop for writes made by other processes
    return false;
  }
}
