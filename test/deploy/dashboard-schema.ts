// Checks Grafana dashboards against the schema Grafana publishes in @grafana/schema: the TypeScript types
// generated from Grafana's CUE schema (the package ships no JSON schema; monitoring.test.ts says why this
// beats a JSON import). Each dashboard's JSON text becomes an object literal in a program that exists
// only in memory, `(<json>) satisfies DashboardJson`, one statement for the dashboard and one per panel,
// and every compiler error is a schema violation, named by dashboard, panel and field path. A panel with
// a wrong value may hide a misspelt field of the same panel until the value is fixed.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export type SchemaProblem = { where: string; message: string };

type PanelPlugin = { module: string; hasFieldConfig: boolean };
type JsonObject = Record<string, unknown>;

const schemaModule = '@grafana/schema';
// A panel id differs from the package's folder name for these two.
const folderOfPanel: Record<string, string> = { annolist: 'annotationslist', dashlist: 'dashboardlist' };

/** The panel plugins whose options @grafana/schema publishes, by folder (`timeseries`, `statetimeline`, …). */
function publishedPanelPlugins(): Map<string, PanelPlugin> {
  const manifestPath = fileURLToPath(import.meta.resolve(`${schemaModule}/package.json`));
  const manifest = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    exports: Record<string, { types?: string }>;
  };
  const plugins = new Map<string, PanelPlugin>();
  for (const [entry, target] of Object.entries(manifest.exports)) {
    const match = /^\.\/dist\/esm\/raw\/composable\/([a-z0-9]+)\/panelcfg\/x\/\w+_types\.gen$/.exec(entry);
    if (!match || !target.types) continue;
    const types = readFileSync(fileURLToPath(new URL(target.types, `file://${manifestPath}`)), 'utf8');
    plugins.set(match[1]!, {
      module: `${schemaModule}${entry.slice(1)}`,
      hasFieldConfig: /^export interface FieldConfig\b/m.test(types),
    });
  }
  return plugins;
}

/** The package folder of a panel type: `state-timeline` → `statetimeline`, `nodeGraph` → `nodegraph`. */
function pluginFolder(type: unknown): string {
  const id = String(type);
  return folderOfPanel[id] ?? id.replace(/-/g, '').toLowerCase();
}

const compilerOptions: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2024,
  module: ts.ModuleKind.NodeNext,
  moduleResolution: ts.ModuleResolutionKind.NodeNext,
  lib: ['lib.es2024.d.ts'],
  types: [],
  strict: true,
  noEmit: true,
  allowImportingTsExtensions: true,
  skipLibCheck: true,
};

/** The dotted path (`options.legend.displayMode`) of the JSON value at a position of the program. */
function jsonPath(root: ts.Node, position: number): string {
  let path = '';
  let node = root;
  for (;;) {
    const child = node.forEachChild((next) =>
      next.pos <= position && position < next.end ? next : undefined,
    );
    if (!child) return path.replace(/^\./, '');
    if (ts.isArrayLiteralExpression(node)) path += `[${node.elements.indexOf(child as ts.Expression)}]`;
    if (ts.isPropertyAssignment(child) && ts.isStringLiteral(child.name)) path += `.${child.name.text}`;
    node = child;
  }
}

/**
 * Every place where a dashboard breaks Grafana's published schema: the dashboard itself, each panel
 * (with its plugin's options and custom field config), each row, and a panel type the package does
 * not publish. Works on values, so a test can hand it a broken copy.
 */
export function dashboardSchemaProblems(dashboards: [file: string, dashboard: unknown][]): SchemaProblem[] {
  const plugins = publishedPanelPlugins();
  const problems: SchemaProblem[] = [];
  const imports = new Map<string, string>();
  const segments: { where: string; start: number; end: number }[] = [];
  let body = '';
  const check = (where: string, value: unknown, type: string) => {
    const start = body.length;
    body += `(${JSON.stringify(value, null, 2)}) satisfies ${type};\n`;
    segments.push({ where, start, end: body.length });
  };
  /** A copy whose `panels`, when a list, is empty: those panels are checked one by one. */
  const withoutPanels = (value: JsonObject) =>
    Array.isArray(value['panels']) ? { ...value, panels: [] } : value;
  const checkPanels = (file: string, panels: unknown) => {
    if (!Array.isArray(panels)) return;
    for (const [index, panel] of (panels as JsonObject[]).entries()) {
      const where = `${file} › panel ${String(panel['id'] ?? `#${index}`)} "${String(panel['title'] ?? '')}"`;
      if (panel['type'] === 'row') {
        check(where, withoutPanels(panel), 'RowPanelJson');
        checkPanels(file, panel['panels']);
        continue;
      }
      const plugin = plugins.get(pluginFolder(panel['type']));
      if (!plugin) {
        problems.push({
          where,
          message: `type ${JSON.stringify(panel['type'])}: no panel plugin of ${schemaModule}`,
        });
        check(where, panel, 'PanelJson<Record<string, unknown>, Record<string, unknown>>');
        continue;
      }
      const alias = imports.get(plugin.module) ?? `plugin${imports.size}`;
      imports.set(plugin.module, alias);
      const custom = plugin.hasFieldConfig ? `${alias}.FieldConfig` : 'Record<string, never>';
      check(`${where} (${String(panel['type'])})`, panel, `PanelJson<${alias}.Options, ${custom}>`);
    }
  };
  for (const [file, dashboard] of dashboards) {
    const value = (dashboard ?? {}) as JsonObject;
    check(file, withoutPanels(value), 'DashboardJson');
    checkPanels(file, value['panels']);
  }

  const header =
    [...imports].map(([module, alias]) => `import type * as ${alias} from '${module}';\n`).join('') +
    `import type { DashboardJson, PanelJson, RowPanelJson } from './dashboard-schema-types.ts';\n`;
  const source = header + body;
  // Beside this module, so that the program resolves './dashboard-schema-types.ts' and node_modules.
  const virtualFile = fileURLToPath(new URL('dashboards.check.ts', import.meta.url));
  const host = ts.createCompilerHost(compilerOptions);
  const getSourceFile = host.getSourceFile.bind(host);
  const fileExists = host.fileExists.bind(host);
  host.getSourceFile = (name, language, ...rest) =>
    name === virtualFile
      ? ts.createSourceFile(name, source, language)
      : getSourceFile(name, language, ...rest);
  host.fileExists = (name) => name === virtualFile || fileExists(name);
  const program = ts.createProgram([virtualFile], compilerOptions, host);
  const sourceFile = program.getSourceFile(virtualFile)!;
  const diagnostics = [
    ...program.getOptionsDiagnostics(),
    ...program.getSyntacticDiagnostics(sourceFile),
    ...program.getSemanticDiagnostics(sourceFile),
  ];
  for (const diagnostic of diagnostics) {
    // A type spelt out in full runs to pages: the field's path says where, the start of the message what.
    const message = ts
      .flattenDiagnosticMessageText(diagnostic.messageText, ' ')
      .replace(/'[^']{80,}'/g, "'…'");
    const position = (diagnostic.start ?? 0) - header.length;
    const segment = segments.find(({ start, end }) => start <= position && position < end);
    if (!segment) {
      problems.push({ where: `the ${schemaModule} types`, message });
      continue;
    }
    const path = jsonPath(sourceFile, diagnostic.start!);
    problems.push({ where: segment.where, message: path ? `${path}: ${message}` : message });
  }
  return problems;
}

/**
 * Why a panel's gridPos does not fit Grafana's 24-column grid, or null. Grafana's CUE schema bounds it
 * (`h: uint32 & >0`, `w: uint32 & >0 & <=24`, `x: uint32 & >=0 & <24`, `y: uint32`); the TypeScript types
 * generated from it say only `number`, so the bounds are checked here, and a panel must also end within
 * the grid (x + w <= 24).
 */
export function gridPosProblem(gridPos: unknown): string | null {
  // Typed as Grafana's GridPos once the integer check has made that true.
  const { x, y, w, h } = (gridPos ?? {}) as { x: number; y: number; w: number; h: number };
  if (![x, y, w, h].every(Number.isInteger))
    return `gridPos ${JSON.stringify(gridPos)}: x, y, w, h must be integers`;
  if (x < 0 || y < 0 || w < 1 || h < 1 || x + w > 24)
    return `gridPos ${JSON.stringify(gridPos)}: outside the 24-column grid`;
  return null;
}
