// Preloaded into a role child (`node --import`) when the bench runs with KAFKA_REQUESTS=1: counts the
// Kafka requests the child sends, by API, through the client's diagnostics channel, and dumps the
// running totals to $EMPSYNC_BENCH_KAFKA_COUNTS every 100 ms so the bench can diff them per phase.
import { tracingChannel } from 'node:diagnostics_channel';
import { writeFileSync } from 'node:fs';

const apiNames: Record<number, string> = {
  0: 'Produce',
  1: 'Fetch',
  2: 'ListOffsets',
  3: 'Metadata',
  8: 'OffsetCommit',
  9: 'OffsetFetch',
  10: 'FindCoordinator',
  11: 'JoinGroup',
  12: 'Heartbeat',
  13: 'LeaveGroup',
  14: 'SyncGroup',
  18: 'ApiVersions',
  22: 'InitProducerId',
};

const file = process.env.EMPSYNC_BENCH_KAFKA_COUNTS;
const counts: Record<string, number> = {};

if (file) {
  tracingChannel('plt:kafka:connections:api').subscribe({
    start(message) {
      const apiKey = (message as { apiKey?: number }).apiKey;
      if (apiKey === undefined) return;
      const name = apiNames[apiKey] ?? `api${apiKey}`;
      counts[name] = (counts[name] ?? 0) + 1;
    },
    end() {},
    asyncStart() {},
    asyncEnd() {},
    error() {},
  });
  const dump = () => writeFileSync(file, JSON.stringify(counts));
  setInterval(dump, 100).unref();
  process.once('exit', dump);
}
