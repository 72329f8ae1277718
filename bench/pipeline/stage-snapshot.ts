// Before/after readings around a phase: the children's histograms (relay and sink batch sizes, apply
// durations, end-to-end lag), CPU of every process involved, and how busy the whole machine was.
import { cpus } from 'node:os';
import { machineTicks, serviceCpu, serviceCpuDelta } from '../process-stats.ts';
import {
  histogramDelta,
  histogramQuantile,
  readHistogram,
  type HistogramSnapshot,
} from './prometheus-text.ts';
import type { RoleProcess } from './role-process.ts';
import { round } from './statistics.ts';

/** Which way a phase syncs: the relay reads `source`'s outbox, the sink writes `destination`. */
export interface Direction {
  source: 'mysql' | 'postgres';
  destination: 'mysql' | 'postgres';
}

export const mysqlToPostgres: Direction = { source: 'mysql', destination: 'postgres' };
export const postgresToMysql: Direction = { source: 'postgres', destination: 'mysql' };

export interface StageSnapshot {
  at: number;
  direction: Direction;
  relay: Map<string, number>;
  sink: Map<string, number>;
  relayCpu: number;
  sinkCpu: number;
  benchCpu: number;
  relayKafka: Record<string, number>;
  sinkKafka: Record<string, number>;
  services: ReturnType<typeof serviceCpu>;
  machine: { busy: number; total: number };
}

export async function takeSnapshot(
  relay: RoleProcess,
  sink: RoleProcess,
  direction: Direction = mysqlToPostgres,
): Promise<StageSnapshot> {
  const [relayMetrics, sinkMetrics] = await Promise.all([relay.scrape(), sink.scrape()]);
  const usage = process.cpuUsage();
  return {
    at: performance.now(),
    direction,
    relay: relayMetrics,
    sink: sinkMetrics,
    relayCpu: relay.cpuSeconds(),
    sinkCpu: sink.cpuSeconds(),
    relayKafka: relay.kafkaRequests(),
    sinkKafka: sink.kafkaRequests(),
    benchCpu: (usage.user + usage.system) / 1e6,
    services: serviceCpu(),
    machine: machineTicks(),
  };
}

const relayMatch = (snapshot: StageSnapshot) => `store="${snapshot.direction.source}"`;
const sinkMatch = (snapshot: StageSnapshot) => `store="${snapshot.direction.destination}"`;

function histogramSummary(delta: HistogramSnapshot, scale = 1, digits = 1) {
  const q = (p: number) => {
    const { value, beyondLastBucket } = histogramQuantile(delta, p);
    return beyondLastBucket ? `>${round(value * scale, digits)}` : round(value * scale, digits);
  };
  return {
    count: delta.count,
    mean: delta.count ? round((delta.sum / delta.count) * scale, digits) : Number.NaN,
    p50: q(0.5),
    p99: q(0.99),
  };
}

/** Where the time of a phase went, from two snapshots `wallSeconds` apart. */
export function describeStages(before: StageSnapshot, after: StageSnapshot, wallSeconds: number) {
  const delta = (from: Map<string, number>, to: Map<string, number>, name: string, match: string) =>
    histogramDelta(readHistogram(from, name, match), readHistogram(to, name, match));
  const relayBatch = delta(before.relay, after.relay, 'empsync_relay_batch_size', relayMatch(after));
  const sinkBatch = delta(before.sink, after.sink, 'empsync_sink_batch_size', sinkMatch(after));
  const sinkDuration = delta(
    before.sink,
    after.sink,
    'empsync_sink_batch_duration_seconds',
    sinkMatch(after),
  );
  const services = serviceCpuDelta(before.services, after.services);
  // mariadb / postgres below are CPU of the database services, whichever way the phase syncs.
  const cores = cpus().length;
  const machineBusyCores =
    ((after.machine.busy - before.machine.busy) / Math.max(1, after.machine.total - before.machine.total)) *
    cores;
  const cpu = (seconds: number) => ({
    cpuSeconds: round(seconds, 2),
    cores: round(seconds / wallSeconds, 2),
  });
  const accounted =
    after.relayCpu -
    before.relayCpu +
    (after.sinkCpu - before.sinkCpu) +
    (after.benchCpu - before.benchCpu) +
    services.mariadb +
    services.postgres +
    services.kafka;
  const requests = (from: Record<string, number>, to: Record<string, number>) =>
    Object.fromEntries(
      Object.entries(to)
        .map(([api, n]) => [api, n - (from[api] ?? 0)])
        .filter(([, n]) => n !== 0),
    );
  const kafkaRequests =
    Object.keys(after.relayKafka).length || Object.keys(after.sinkKafka).length
      ? {
          kafkaRequests: {
            relay: requests(before.relayKafka, after.relayKafka),
            sink: requests(before.sinkKafka, after.sinkKafka),
          },
        }
      : {};
  return {
    ...kafkaRequests,
    relay: { batchSize: histogramSummary(relayBatch, 1, 0), ...cpu(after.relayCpu - before.relayCpu) },
    sink: {
      batchSize: histogramSummary(sinkBatch, 1, 0),
      batchDurationMs: histogramSummary(sinkDuration, 1000, 1),
      /** Share of the phase the sink spent inside apply transactions (1 = it never waited for Kafka). */
      applyBusyFraction: round(sinkDuration.sum / wallSeconds, 2),
      ...cpu(after.sinkCpu - before.sinkCpu),
    },
    bench: cpu(after.benchCpu - before.benchCpu),
    mariadb: cpu(services.mariadb),
    postgres: cpu(services.postgres),
    kafka: cpu(services.kafka),
    machineBusyCores: round(machineBusyCores, 2),
    /** Busy cores not spent by the processes above: other tenants of a shared machine (noise). */
    otherProcessesCores: round(Math.max(0, machineBusyCores - accounted / wallSeconds), 2),
    machineCores: cores,
  };
}

export type StageDescription = ReturnType<typeof describeStages>;

/** The end-to-end lag histogram of the sink between two snapshots, as bucket-resolution quantiles (ms). */
export function lagFromHistogram(before: StageSnapshot, after: StageSnapshot) {
  const lag = histogramDelta(
    readHistogram(before.sink, 'empsync_end_to_end_lag_seconds', sinkMatch(after)),
    readHistogram(after.sink, 'empsync_end_to_end_lag_seconds', sinkMatch(after)),
  );
  const q = (p: number) => {
    const { value, beyondLastBucket } = histogramQuantile(lag, p);
    return beyondLastBucket ? `>${round(value * 1000, 1)}` : round(value * 1000, 1);
  };
  return {
    samples: lag.count,
    meanMs: lag.count ? round((lag.sum / lag.count) * 1000, 1) : Number.NaN,
    p50Ms: q(0.5),
    p99Ms: q(0.99),
    p999Ms: q(0.999),
    buckets: lag.buckets.map((b) => ({
      leMs: b.le === Infinity ? '+Inf' : round(b.le * 1000, 1),
      count: b.count,
    })),
  };
}
