// A throw-away Prometheus (the binary of scripts/ensure-prometheus.sh) for a live test: its config is
// the repository's monitoring/prometheus/prometheus.yml with the targets pointed at the test's
// processes and every interval set to 1 s, and it loads a copy of monitoring/prometheus/alerts.yml.
// Talks to it through its HTTP API only.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse, stringify } from 'yaml';
import { readRepoFile, repoPath } from '../deploy/deploy-files.ts';
import { freePort } from '../support/role-processes.ts';
import { waitFor } from '../support/test-env.ts';

interface ScrapeConfig {
  job_name: string;
  scrape_interval?: string;
  scrape_timeout?: string;
  static_configs?: { targets: string[]; labels?: Record<string, string> }[];
}

interface PrometheusConfig {
  global: Record<string, unknown>;
  rule_files: string[];
  scrape_configs: ScrapeConfig[];
}

export interface Sample {
  metric: Record<string, string>;
  value?: [number, string];
  values?: [number, string][];
}

export interface ActiveAlert {
  labels: Record<string, string>;
  state: 'pending' | 'firing';
  value: string;
}

interface RuleGroup {
  name: string;
  lastEvaluation: string;
  rules: { name: string; health: string; lastError?: string }[];
}

/** prometheus, installed by scripts/ensure-prometheus.sh (which prints promtool's path) when missing. */
export function prometheusBinary(): string {
  const result = spawnSync('bash', [repoPath('scripts', 'ensure-prometheus.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(result.status, 0, `ensure-prometheus.sh failed:\n${result.stderr}`);
  const promtool = result.stdout.trim().split('\n').at(-1)!;
  return join(dirname(promtool), 'prometheus');
}

/**
 * alerts.yml with every `for:` set to 0s: the repository's durations (1 to 10 minutes) are right in
 * production and far too long for a test; the expressions themselves are untouched.
 */
export function alertsWithoutForDurations(): string {
  const source = readRepoFile('monitoring', 'prometheus', 'alerts.yml');
  const alerts = source.match(/^\s+- alert: /gm)?.length ?? 0;
  const rewritten = source.replace(/^(\s+)for: \S+$/gm, '$1for: 0s');
  assert.equal(rewritten.match(/^\s+for: 0s$/gm)?.length, alerts, 'every alert has its `for:` rewritten');
  return rewritten;
}

export class LocalPrometheus {
  readonly base: string;
  readonly #process: ChildProcess;
  readonly #folder: string;

  private constructor(base: string, process: ChildProcess, folder: string) {
    this.base = base;
    this.#process = process;
    this.#folder = folder;
  }

  /** Starts Prometheus with the repository's local config, each job's targets replaced by `targets`. */
  static async start(targets: Record<string, string[]>): Promise<LocalPrometheus> {
    const binary = prometheusBinary();
    const folder = mkdtempSync(join(tmpdir(), 'empsync-live-prometheus-'));
    const port = await freePort();
    const config = parse(readRepoFile('monitoring', 'prometheus', 'prometheus.yml')) as PrometheusConfig;
    config.global = {
      ...config.global,
      scrape_interval: '1s',
      scrape_timeout: '1s',
      evaluation_interval: '1s',
    };
    targets = { ...targets, prometheus: [`127.0.0.1:${port}`] };
    for (const job of config.scrape_configs) {
      const replacement = targets[job.job_name];
      assert.ok(replacement, `the test gives targets for the job ${job.job_name} of prometheus.yml`);
      assert.equal(job.static_configs?.length, 1, `${job.job_name}: one static_configs entry`);
      job.static_configs[0]!.targets = replacement;
    }
    writeFileSync(join(folder, 'prometheus.yml'), stringify(config));
    writeFileSync(join(folder, 'alerts.yml'), alertsWithoutForDurations());
    const log = openSync(join(folder, 'prometheus.log'), 'w');
    const child = spawn(
      binary,
      [
        `--config.file=${join(folder, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(folder, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', log, log] },
    );
    const prometheus = new LocalPrometheus(`http://127.0.0.1:${port}`, child, folder);
    try {
      await waitFor(
        'Prometheus to be ready',
        async () => {
          assert.equal(child.exitCode, null, `Prometheus exited:\n${prometheus.log()}`);
          return (await fetch(`${prometheus.base}/-/ready`)).ok;
        },
        60_000,
      );
    } catch (error) {
      await prometheus.stop();
      throw error;
    }
    return prometheus;
  }

  log(): string {
    try {
      return readFileSync(join(this.#folder, 'prometheus.log'), 'utf8').split('\n').slice(-20).join('\n');
    } catch {
      return '';
    }
  }

  async #get<T>(path: string, params: Record<string, string> = {}): Promise<T> {
    const response = await fetch(`${this.base}${path}?${new URLSearchParams(params)}`);
    const body = (await response.json()) as { status: string; data: T; error?: string };
    assert.equal(
      body.status,
      'success',
      `${path} ${JSON.stringify(params)}: ${body.error ?? response.status}`,
    );
    return body.data;
  }

  /** An instant query (/api/v1/query) at the current time. */
  async query(query: string): Promise<Sample[]> {
    return (await this.#get<{ result: Sample[] }>('/api/v1/query', { query })).result;
  }

  /** A range query (/api/v1/query_range), as a Grafana time-series panel asks it. */
  async queryRange(query: string, startSeconds: number, endSeconds: number, step = '1s'): Promise<Sample[]> {
    return (
      await this.#get<{ result: Sample[] }>('/api/v1/query_range', {
        query,
        start: String(startSeconds),
        end: String(endSeconds),
        step,
      })
    ).result;
  }

  /** The first value of the first series, as a number (undefined when there is no series). */
  async scalar(query: string): Promise<number | undefined> {
    const [first] = await this.query(query);
    return first?.value ? Number(first.value[1]) : undefined;
  }

  /** Pending and firing alerts (/api/v1/alerts lists only active ones). */
  async alerts(): Promise<ActiveAlert[]> {
    return (await this.#get<{ alerts: ActiveAlert[] }>('/api/v1/alerts')).alerts;
  }

  async ruleGroups(): Promise<RuleGroup[]> {
    return (await this.#get<{ groups: RuleGroup[] }>('/api/v1/rules', { type: 'alert' })).groups;
  }

  /** Waits until every rule group has been evaluated at or after `since` (epoch ms). */
  async waitForEvaluationAfter(since: number): Promise<void> {
    await waitFor('every alert group to be evaluated again', async () => {
      const groups = await this.ruleGroups();
      return groups.length > 0 && groups.every((group) => Date.parse(group.lastEvaluation) >= since);
    });
  }

  async stop(): Promise<void> {
    if (this.#process.exitCode === null && this.#process.signalCode === null) {
      const exited = new Promise((resolve) => this.#process.once('exit', resolve));
      this.#process.kill('SIGTERM');
      await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
      if (this.#process.exitCode === null && this.#process.signalCode === null) this.#process.kill('SIGKILL');
    }
    rmSync(this.#folder, { recursive: true, force: true });
  }
}
