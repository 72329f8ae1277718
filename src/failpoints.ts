// Crash points for the integrity suite: EMPSYNC_FAILPOINT=<name> makes the process die with SIGKILL
// the first time it reaches that point, as a power cut would. Unset in production: a no-op.
const armed = new Set((process.env.EMPSYNC_FAILPOINT ?? '').split(',').filter(Boolean));

export type FailpointName = 'relay.after-publish' | 'sink.after-apply' | 'backfill.after-chunk';

export function failpoint(name: FailpointName): void {
  if (armed.has(name)) process.kill(process.pid, 'SIGKILL');
}
