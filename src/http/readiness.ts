// Readiness of the three dependencies (MySQL, PostgreSQL, Kafka), probed in parallel with a
// deadline, and whether every column of the synced tables travels (a column that cannot is reported:
// ready but degraded). Serves /readyz and the GraphQL `healthCheck`.
import { describeError } from '../errors.ts';
import type { Metrics } from '../metrics/metrics.ts';
import type { Stores } from '../store/create-stores.ts';
import { pingKafka, type KafkaConfig } from '../transport/kafka.ts';

export type DependencyName = 'mysql' | 'postgres' | 'kafka';

export interface DependencyState {
  up: boolean;
  latencyMs: number;
  error?: string;
}

/** A column left out of sync (src/capture/schema-keeper.ts). */
export interface SchemaProblem {
  table: string;
  column: string;
  reason: string;
}

export interface ReadinessReport {
  ready: boolean;
  /** True when ready but some column of a synced table is left out of sync (`schema` says which). */
  degraded: boolean;
  dependencies: Record<DependencyName, DependencyState>;
  schema: SchemaProblem[];
}

export type ReadinessProbe = () => Promise<ReadinessReport>;

export function createReadinessProbe(
  stores: Stores,
  kafka: KafkaConfig,
  metrics: Metrics,
  schema: { readonly mismatches: readonly SchemaProblem[] } = { mismatches: [] },
  timeoutMs = 3000,
): ReadinessProbe {
  const probe = async (name: DependencyName, check: () => Promise<void>): Promise<[DependencyName, DependencyState]> => {
    const started = performance.now();
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        check(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
        }),
      ]);
      metrics.dependencyUp.set({ dependency: name }, 1);
      return [name, { up: true, latencyMs: Math.round(performance.now() - started) }];
    } catch (error) {
      metrics.dependencyUp.set({ dependency: name }, 0);
      return [name, { up: false, latencyMs: Math.round(performance.now() - started), error: describeError(error) }];
    } finally {
      clearTimeout(timer);
    }
  };
  return async () => {
    const results = await Promise.all([
      probe('mysql', () => stores.mysql.ping()),
      probe('postgres', () => stores.postgres.ping()),
      probe('kafka', () => pingKafka(kafka, timeoutMs)),
    ]);
    const dependencies = Object.fromEntries(results) as Record<DependencyName, DependencyState>;
    const problems = [...schema.mismatches];
    return { ready: results.every(([, state]) => state.up), degraded: problems.length > 0, dependencies, schema: problems };
  };
}

/**
 * The probe, checked at most once per `ttlMs`: callers within that time (and callers while a check runs)
 * share its result, so a flood of /readyz requests cannot flood the databases and Kafka.
 */
export function cachedReadiness(probe: ReadinessProbe, ttlMs: number, metrics: Metrics): ReadinessProbe {
  let last: { at: number; report: Promise<ReadinessReport> } | null = null;
  return () => {
    const now = performance.now();
    if (last && now - last.at < ttlMs) return last.report;
    metrics.readinessChecks.inc();
    const report = probe();
    last = { at: now, report };
    // A failed check is not reused: the next caller checks again.
    report.catch(() => {
      if (last?.report === report) last = null;
    });
    return report;
  };
}
