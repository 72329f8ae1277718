// The monitoring files are checked with the real tools: promtool validates both Prometheus configs
// and the alert rules and runs their unit tests; every dashboard query is evaluated by a real
// Prometheus (Debian's package, installed by scripts/ensure-prometheus.sh) and may only name
// metrics that src/metrics/metrics.ts declares.
//
// Dashboards are validated against Grafana's own published schema, @grafana/schema, not a subset written
// here. The package ships no JSON schema, only the TypeScript types generated from Grafana's CUE schema
// (`Dashboard`, `Panel`, `RowPanel`, and each panel plugin's `Options` and `FieldConfig`), so the
// TypeScript compiler validates: dashboard-schema.ts compiles each dashboard's JSON text, in memory, as an
// object literal that must satisfy those types. A JSON import assigned to `Dashboard` under `tsc` was
// the other choice, and a weaker one: a JSON import's strings are widened to `string` (so "absolute" does
// not match the enum ThresholdsMode and no valid dashboard type-checks) and its type is not fresh (so a
// misspelt field passes). What that schema cannot say stays here: data source uids that resolve, a unit
// and thresholds on every panel, metric names that metrics.ts declares, places on the 24-column grid.
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { dashboardSchemaProblems, gridPosProblem } from './dashboard-schema.ts';
import { loadCompose, readRepoFile, repoPath } from './deploy-files.ts';

type Target = { refId?: string; expr?: string; datasource?: { uid?: string; type?: string } };
type Panel = {
  id: number;
  title: string;
  type: string;
  gridPos?: unknown;
  datasource?: { uid?: string; type?: string };
  fieldConfig?: { defaults?: { unit?: string; thresholds?: { steps?: unknown[] } } };
  targets?: Target[];
  panels?: Panel[];
};
type Dashboard = { uid: string; title: string; panels: Panel[] };
type RuleGroup = { name: string; rules: { alert?: string; expr: string }[] };
type RuleTest = { alert_rule_test?: { alertname: string; exp_alerts?: unknown[] }[] };

const requiredAlerts = [
  'EmpsyncSyncLagHigh',
  'EmpsyncOutboxBacklogGrowing',
  'EmpsyncSinkDown',
  'EmpsyncRelayDown',
  'EmpsyncDlqNotEmpty',
  'EmpsyncApiErrorRate',
  'EmpsyncApiLatencyHigh',
  'EmpsyncKafkaUnreachable',
];
const ownMetricPrefixes =
  /\b(?:empsync_|graphql_|kafka_messages_|kafka_producer_|employees_|api_)[a-z0-9_]*/g;

/** Metric names declared in src/metrics/metrics.ts (`name: '...'`). */
function declaredMetrics(): Set<string> {
  return new Set(
    [...readRepoFile('src', 'metrics', 'metrics.ts').matchAll(/\bname: '([a-z_:][a-z0-9_:]*)'/g)].map(
      (match) => match[1]!,
    ),
  );
}

/** Our metric names an expression uses that metrics.ts does not declare (histogram suffixes allowed). */
function undeclaredMetrics(expr: string, declared: Set<string>): string[] {
  return [...expr.matchAll(ownMetricPrefixes)]
    .map((match) => match[0])
    .filter((name) => !declared.has(name) && !declared.has(name.replace(/_(bucket|sum|count)$/, '')));
}

function loadDashboards(): [string, Dashboard][] {
  const folder = repoPath('monitoring', 'grafana', 'dashboards');
  return readdirSync(folder)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => [
      file,
      JSON.parse(readRepoFile('monitoring', 'grafana', 'dashboards', file)) as Dashboard,
    ]);
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => (panel.type === 'row' ? allPanels(panel.panels ?? []) : [panel]));
}

/** Grafana's interval variables replaced by a fixed range, so Prometheus can evaluate the query. */
function asPrometheusQuery(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m');
}

function ensurePromtool(): string {
  const result = spawnSync('bash', [repoPath('scripts', 'ensure-prometheus.sh')], {
    encoding: 'utf8',
    timeout: 300_000,
  });
  assert.equal(result.status, 0, `ensure-prometheus.sh failed:\n${result.stderr}`);
  const promtool = result.stdout.trim().split('\n').at(-1)!;
  assert.match(promtool, /promtool$/);
  return promtool;
}

function runPromtool(promtool: string, args: string[]): void {
  const result = spawnSync(promtool, args, { cwd: repoPath(), encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, `promtool ${args.join(' ')}:\n${result.stdout}\n${result.stderr}`);
}

const declared = declaredMetrics();
const dashboards = loadDashboards();
const datasources = parse(
  readRepoFile('monitoring', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'),
) as {
  datasources: { uid: string; type: string; url: string }[];
};
const datasourceUids = new Set(datasources.datasources.map((datasource) => datasource.uid));

describe('Prometheus configuration and alert rules', () => {
  let promtool = '';
  before(() => {
    promtool = ensurePromtool();
  });

  it('promtool check config: the local and the Compose configuration', () => {
    runPromtool(promtool, ['check', 'config', 'monitoring/prometheus/prometheus.yml']);
    runPromtool(promtool, ['check', 'config', 'monitoring/prometheus/prometheus.compose.yml']);
  });

  it('promtool check rules: alerts.yml', () => {
    runPromtool(promtool, ['check', 'rules', 'monitoring/prometheus/alerts.yml']);
  });

  it('promtool test rules: alerts.test.yml passes', () => {
    runPromtool(promtool, ['test', 'rules', 'monitoring/prometheus/alerts.test.yml']);
  });

  it('promtool test rules fails when an expectation is wrong (the unit tests bite)', () => {
    const folder = mkdtempSync(join(tmpdir(), 'empsync-rules-'));
    try {
      writeFileSync(join(folder, 'alerts.yml'), readRepoFile('monitoring', 'prometheus', 'alerts.yml'));
      const broken = readRepoFile('monitoring', 'prometheus', 'alerts.test.yml').replace(
        'severity: critical, store: postgres',
        'severity: warning, store: postgres',
      );
      writeFileSync(join(folder, 'alerts.test.yml'), broken);
      const result = spawnSync(promtool, ['test', 'rules', join(folder, 'alerts.test.yml')], {
        encoding: 'utf8',
      });
      assert.notEqual(result.status, 0);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });

  it('defines every required alert, each with a firing and a quiet unit test', () => {
    const rules = parse(readRepoFile('monitoring', 'prometheus', 'alerts.yml')) as { groups: RuleGroup[] };
    const alerts = rules.groups.flatMap((group) => group.rules).filter((rule) => rule.alert);
    const names = alerts.map((rule) => rule.alert!);
    for (const name of requiredAlerts) assert.ok(names.includes(name), `alert ${name}`);
    const tests = (
      parse(readRepoFile('monitoring', 'prometheus', 'alerts.test.yml')) as { tests: RuleTest[] }
    ).tests.flatMap((test) => test.alert_rule_test ?? []);
    for (const name of names) {
      const cases = tests.filter((test) => test.alertname === name);
      assert.ok(
        cases.some((test) => (test.exp_alerts ?? []).length > 0),
        `${name} has a firing case`,
      );
      assert.ok(
        cases.some((test) => (test.exp_alerts ?? []).length === 0),
        `${name} has a quiet case`,
      );
    }
    for (const rule of alerts)
      assert.deepEqual(undeclaredMetrics(rule.expr, declared), [], `${rule.alert} uses undeclared metrics`);
  });

  it('both configurations load alerts.yml and scrape the empsync job', () => {
    for (const file of ['prometheus.yml', 'prometheus.compose.yml']) {
      const config = parse(readRepoFile('monitoring', 'prometheus', file)) as {
        rule_files: string[];
        scrape_configs: { job_name: string }[];
      };
      assert.deepEqual(config.rule_files, ['alerts.yml'], file);
      assert.ok(
        config.scrape_configs.some((scrape) => scrape.job_name === 'empsync'),
        file,
      );
    }
    const local = parse(readRepoFile('monitoring', 'prometheus', 'prometheus.yml')) as {
      scrape_configs: { job_name: string; static_configs: { targets: string[] }[] }[];
    };
    assert.deepEqual(
      local.scrape_configs.find((scrape) => scrape.job_name === 'empsync')!.static_configs[0]!.targets,
      ['127.0.0.1:8000'],
    );
  });
});

describe('Grafana provisioning and dashboards', () => {
  it('provisions one Prometheus data source pointing at the Compose service', () => {
    assert.equal(datasources.datasources.length, 1);
    assert.equal(datasources.datasources[0]!.type, 'prometheus');
    assert.equal(datasources.datasources[0]!.url, 'http://prometheus:9090');
    assert.ok(loadCompose().services['prometheus'], 'the URL names the prometheus service');
  });

  it('loads dashboards from the folder that docker-compose.yml mounts', () => {
    const provider = parse(
      readRepoFile('monitoring', 'grafana', 'provisioning', 'dashboards', 'empsync.yml'),
    ) as {
      providers: { options: { path: string } }[];
    };
    const mounts = (loadCompose().services['grafana']!.volumes ?? []).filter(
      (volume): volume is string => typeof volume === 'string',
    );
    assert.ok(mounts.includes(`./monitoring/grafana/dashboards:${provider.providers[0]!.options.path}:ro`));
  });

  it('has the pipeline, api, kafka and business dashboards with unique uids', () => {
    assert.deepEqual(
      dashboards.map(([file]) => file),
      ['empsync-api.json', 'empsync-business.json', 'empsync-kafka.json', 'empsync-pipeline.json'],
    );
    const uids = dashboards.map(([, dashboard]) => dashboard.uid);
    assert.ok(uids.every(Boolean), 'every dashboard has a uid');
    assert.equal(new Set(uids).size, uids.length);
  });

  for (const [file, dashboard] of dashboards) {
    it(`${file}: every panel has a place on the grid, a data source, a unit, thresholds and non-empty queries of declared metrics`, () => {
      const panels = allPanels(dashboard.panels ?? []);
      assert.ok(panels.length > 0, 'has panels');
      const ids = panels.map((panel) => panel.id);
      assert.equal(new Set(ids).size, ids.length, 'panel ids are unique');
      for (const panel of panels) {
        const where = `${file} › ${panel.title}`;
        assert.equal(gridPosProblem(panel.gridPos), null, where);
        assert.ok(
          panel.datasource?.uid && datasourceUids.has(panel.datasource.uid),
          `${where}: data source uid`,
        );
        assert.ok(panel.fieldConfig?.defaults?.unit, `${where}: unit`);
        assert.ok((panel.fieldConfig?.defaults?.thresholds?.steps ?? []).length > 0, `${where}: thresholds`);
        assert.ok((panel.targets ?? []).length > 0, `${where}: targets`);
        for (const target of panel.targets ?? []) {
          assert.ok(target.expr?.trim(), `${where}: target ${target.refId} has an expression`);
          if (target.datasource)
            assert.ok(datasourceUids.has(target.datasource.uid ?? ''), `${where}: target data source uid`);
          assert.deepEqual(
            undeclaredMetrics(target.expr ?? '', declared),
            [],
            `${where}: undeclared metrics`,
          );
        }
      }
    });
  }

  it('every dashboard follows the schema Grafana publishes (@grafana/schema), and the check bites', () => {
    const problems = dashboardSchemaProblems(dashboards);
    assert.deepEqual(problems, [], problems.map(({ where, message }) => `${where}: ${message}`).join('\n'));
    // A copy in memory, broken three ways: a field of the wrong type, a misspelt field, a legend display
    // mode that the panel's plugin (timeseries) does not have.
    const [file, sample] = dashboards.find(([name]) => name === 'empsync-api.json')!;
    const broken = structuredClone(sample) as unknown as { panels: Record<string, unknown>[] };
    broken.panels[0]!['gridPos'] = '0 0 12 8';
    broken.panels[1]!['gridpos'] = broken.panels[1]!['gridPos'];
    broken.panels[2]!['options'] = { legend: { displayMode: 'lst' } };
    const panel = (index: number) => sample.panels[index]!;
    assert.deepEqual(
      dashboardSchemaProblems([[file, broken]]).map(({ where, message }) => [where, message.split(':')[0]]),
      [
        [`${file} › panel ${panel(0).id} "${panel(0).title}" (${panel(0).type})`, 'gridPos'],
        [`${file} › panel ${panel(1).id} "${panel(1).title}" (${panel(1).type})`, 'gridpos'],
        [
          `${file} › panel ${panel(2).id} "${panel(2).title}" (${panel(2).type})`,
          'options.legend.displayMode',
        ],
      ],
    );
    assert.match(gridPosProblem({ x: 0, y: 0, w: 30, h: 8 }) ?? '', /outside the 24-column grid/);
  });

  it('the metric-name check bites on a misspelt name', () => {
    assert.deepEqual(undeclaredMetrics('rate(empsync_events_publish_total[5m])', declared), [
      'empsync_events_publish_total',
    ]);
    assert.deepEqual(undeclaredMetrics('rate(graphql_response_time_seconds_bucket[5m])', declared), []);
  });
});

describe('dashboard queries evaluated by a real Prometheus', () => {
  let prometheus: ChildProcess | undefined;
  let dataDir = '';
  let base = '';

  before(async () => {
    ensurePromtool();
    dataDir = mkdtempSync(join(tmpdir(), 'empsync-prometheus-'));
    const config = join(dataDir, 'prometheus.yml');
    writeFileSync(config, 'global:\n  scrape_interval: 15s\nscrape_configs: []\n');
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    base = `http://127.0.0.1:${port}`;
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${config}`,
        `--storage.tsdb.path=${join(dataDir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: 'ignore', env: { ...process.env, PATH: `${process.env['PATH'] ?? ''}:/usr/bin` } },
    );
    const deadline = Date.now() + 60_000;
    for (;;) {
      const ready = await fetch(`${base}/-/ready`).then(
        (response) => response.ok,
        () => false,
      );
      if (ready) break;
      assert.ok(Date.now() < deadline, 'Prometheus did not become ready within 60 s');
      assert.equal(prometheus.exitCode, null, 'Prometheus exited at start');
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  });

  after(() => {
    prometheus?.kill('SIGTERM');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('parses and evaluates every panel query of every dashboard', async () => {
    let evaluated = 0;
    for (const [file, dashboard] of dashboards) {
      for (const panel of allPanels(dashboard.panels ?? [])) {
        for (const target of panel.targets ?? []) {
          const query = asPrometheusQuery(target.expr ?? '');
          const response = await fetch(`${base}/api/v1/query?${new URLSearchParams({ query })}`);
          const body = (await response.json()) as { status: string; error?: string };
          assert.equal(body.status, 'success', `${file} › ${panel.title}: ${query}\n${body.error ?? ''}`);
          evaluated += 1;
        }
      }
    }
    assert.ok(evaluated > 20, `evaluated ${evaluated} queries`);
    const broken = await fetch(
      `${base}/api/v1/query?${new URLSearchParams({ query: 'sum by (store (rate(x[5m]))' })}`,
    );
    assert.equal(
      ((await broken.json()) as { status: string }).status,
      'error',
      'a malformed query is reported',
    );
  });
});
