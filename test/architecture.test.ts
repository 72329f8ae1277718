// Architecture rules, checked: dialect SQL lives only in its store folder, and each stage imports
// only what sits below it in the data flow (capture → relay → Kafka → sink → store).
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

const dialectMarkers: Record<string, RegExp> = {
  mysql: /ON DUPLICATE KEY|GET_LOCK|@sync_origin|AUTO_INCREMENT|UNIX_TIMESTAMP/,
  postgres: /ON CONFLICT|pg_try_advisory_lock|set_config\(|pg_notify|LISTEN |unnest\(/,
};

describe('architecture', () => {
  it('dialect SQL appears only in src/store/<dialect>/', () => {
    for (const { path, text } of files) {
      for (const [dialect, marker] of Object.entries(dialectMarkers)) {
        if (path.startsWith(`src/store/${dialect}/`)) continue;
        assert.doesNotMatch(code(text), marker, `${path} holds ${dialect} SQL`);
      }
    }
  });

  it('stages import only downstream pieces: the sink never imports the relay, and neither imports the API', () => {
    const forbidden: [string, RegExp][] = [
      ['src/sink/', /from '\.\.\/(relay|api)\//],
      ['src/relay/', /from '\.\.\/(sink|api)\//],
      ['src/store/', /from '\.\.\/(\.\.\/)?(sink|relay|api|transport)\//],
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
