// Architecture rules, checked: dialect SQL lives only in its store and capture folders, driver error codes
// only in its store folder, the synced table's columns only in its declaration (and the API's published
// contract), and each stage imports only what sits below it in the data flow (capture → relay → Kafka →
// sink → store).
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';

const root = new URL('..', import.meta.url).pathname;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

const files = sourceFiles(join(root, 'src')).map((path) => ({ path: relative(root, path), text: readFileSync(path, 'utf8') }));
/** The code without its comments: prose may name another dialect's features. */
const code = (text: string) => text.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');

/** Fails naming the file and the line that breaks the rule (not the whole file). */
function assertNone(path: string, text: string, marker: RegExp, what: string): void {
  const line = code(text)
    .split('\n')
    .find((l) => marker.test(l));
  assert.equal(line, undefined, `${path} ${what}: ${line?.trim()}`);
}

const dialectMarkers: Record<string, RegExp> = {
  mysql: /ON DUPLICATE KEY|GET_LOCK|@sync_origin|AUTO_INCREMENT|UNIX_TIMESTAMP/,
  postgres: /ON CONFLICT|pg_try_advisory_lock|set_config\(|pg_notify|LISTEN |unnest\(/,
};

// Driver error codes: mysql2's ER_* names and errnos, PostgreSQL's SQLSTATEs (quoted five-character codes).
const driverErrorMarkers: Record<string, RegExp> = {
  mysql: /\bER_[A-Z_]{3,}\b|PROTOCOL_CONNECTION_LOST|errno === \d/,
  postgres: /['"](?:0[0-9A-Z]|[1-5][0-9A-Z])[0-9A-Z]{3}['"]|\^?\(?0?8\||57P0/,
};

// The employee columns (nom, prenom, email, poste, salaire, department, date_embauche): named only in the
// declaration of the table, and in the API's published contract (its fields, the store port the API reads
// through, and the store code that reads and writes employees for it). Migrations are history: frozen.
const employeeColumn = /\b(date_embauche|salaire|prenom)\b|['"`](nom|email|poste|department)['"`]/;
const employeeColumnPlaces = [
  /^src\/tables\/employes\.ts$/,
  /^src\/api\//,
  /^src\/store\/(ports|types|schema|row-format)\.ts$/,
  /^src\/store\/kysely\/employees\.ts$/,
  /^src\/store\/(mysql|postgres)\/migrations\.ts$/,
  /^src\/metrics\/metrics\.ts$/, // employees_by_department{department}: the published design's metric
];

describe('architecture', () => {
  it('dialect SQL appears only in src/store/<dialect>/ and src/capture/<dialect>/', () => {
    for (const { path, text } of files) {
      for (const [dialect, marker] of Object.entries(dialectMarkers)) {
        if (path.startsWith(`src/store/${dialect}/`) || path.startsWith(`src/capture/${dialect}/`)) continue;
        assertNone(path, text, marker, `holds ${dialect} SQL`);
      }
    }
  });

  it('driver error codes appear only in src/store/<dialect>/ (stores raise EmpsyncError with `retryable`)', () => {
    for (const { path, text } of files) {
      // A capture trigger may raise an SQLSTATE (SIGNAL in MySQL): that is its dialect's SQL, not a read.
      const read = path.startsWith('src/capture/') ? text.replace(/SIGNAL SQLSTATE '45000'/g, 'SIGNAL') : text;
      for (const [dialect, marker] of Object.entries(driverErrorMarkers)) {
        if (path.startsWith(`src/store/${dialect}/`)) continue;
        assertNone(path, read, marker, `reads ${dialect} driver error codes`);
      }
    }
  });

  it('the columns of employes are named only in its declaration and the API contract', () => {
    for (const { path, text } of files) {
      if (employeeColumnPlaces.some((place) => place.test(path))) continue;
      assertNone(path, text, employeeColumn, 'names an employee column');
    }
  });

  it('the checks bite: each finds what it is there for', () => {
    assert.match(`if (code === 'ER_DUP_ENTRY') return true;`, driverErrorMarkers.mysql!);
    assert.match(`if (code === '23505') return true;`, driverErrorMarkers.postgres!);
    assert.match(`INSERT INTO t (x) VALUES (1) ON CONFLICT DO NOTHING`, dialectMarkers.postgres!);
    assert.match(`const columns = ['nom', 'prenom'];`, employeeColumn);
    assert.doesNotMatch(`const name = 'nominal';`, employeeColumn);
  });

  it('stages import only downstream pieces: the sink never imports the relay, and neither imports the API', () => {
    const forbidden: [string, RegExp][] = [
      ['src/sink/', /from '\.\.\/(relay|api)\//],
      ['src/relay/', /from '\.\.\/(sink|api)\//],
      ['src/store/', /from '\.\.\/(\.\.\/)?(sink|relay|api|transport)\//],
      ['src/capture/', /from '\.\.\/(\.\.\/)?(sink|relay|api|transport)\//],
      ['src/transport/', /from '\.\.\/(sink|relay|api)\//],
    ];
    for (const { path, text } of files) {
      for (const [folder, pattern] of forbidden) {
        if (path.startsWith(folder)) assert.doesNotMatch(text, pattern, `${path} imports across the flow`);
      }
    }
  });

  it('every module opens with a comment on its role', () => {
    for (const { path, text } of files) {
      assert.match(text.trimStart(), /^(\/\/|\/\*)/, `${path} has no leading comment`);
    }
  });
});
