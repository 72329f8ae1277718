// Every query of every Grafana dashboard in monitoring/grafana/dashboards, with Grafana's interval
// variables replaced so Prometheus can evaluate it as it is.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoPath } from '../deploy/deploy-files.ts';

interface Panel {
  title: string;
  type: string;
  targets?: { refId?: string; expr?: string }[];
  panels?: Panel[];
}

export interface DashboardQuery {
  /** `<file> › <panel title> › <refId>`: how a failure and the exception lists name a query. */
  name: string;
  file: string;
  panel: string;
  expr: string;
}

function allPanels(panels: Panel[]): Panel[] {
  return panels.flatMap((panel) => (panel.type === 'row' ? allPanels(panel.panels ?? []) : [panel]));
}

/** `$__rate_interval`, `$__interval` and `$__range` become `window` (Grafana computes them from the time range). */
export function asPrometheusQuery(expr: string, window: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, window);
}

export function dashboardQueries(window: string): DashboardQuery[] {
  const folder = repoPath('monitoring', 'grafana', 'dashboards');
  return readdirSync(folder)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .flatMap((file) => {
      const dashboard = JSON.parse(readFileSync(join(folder, file), 'utf8')) as { panels?: Panel[] };
      return allPanels(dashboard.panels ?? []).flatMap((panel) =>
        (panel.targets ?? []).map((target) => ({
          name: `${file} › ${panel.title} › ${target.refId ?? '?'}`,
          file,
          panel: panel.title,
          expr: asPrometheusQuery(target.expr ?? '', window),
        })),
      );
    });
}
