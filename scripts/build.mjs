// `npm run build`: src/ bundled into dist/ (esbuild) for the Docker image and the benchmarks. Node 24
// runs the TypeScript sources directly (development, tests, `npm start`); a bundle spares each process
// Node's type stripping and the loading of ~1,500 modules one by one: 40 MiB less resident and half the
// heap at start (docs/benchmarks.md, "The bundle"). Plain JavaScript, so the Dockerfile's build stage
// runs it without anything else of the repository.
import { cp, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const outdir = join(root, 'dist');

await rm(outdir, { recursive: true, force: true });
await build({
  absWorkingDir: root,
  entryPoints: ['src/main.ts'],
  outdir,
  bundle: true,
  // The API, GraphiQL's page and the command-line tools stay in chunks of their own, loaded by the roles
  // that use them (main.ts imports them dynamically): a relay does not load GraphQL.
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node24',
  outExtension: { '.js': '.mjs' },
  // Bundled CommonJS packages call require(); an ES module has none of its own.
  banner: { js: "import { createRequire as __empsyncRequire } from 'node:module'; const require = __empsyncRequire(import.meta.url);" },
  // Reads its .wasm beside its own file: loaded from node_modules.
  external: ['@platformatic/wasm-utils', 'pino-pretty'],
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
});
// The console's page, script and style are files the API serves (src/api/console/serve-console.ts reads
// them beside its own module, which is a chunk of dist/ here).
for (const asset of ['index.html', 'console.js', 'console.css']) {
  await cp(join(root, 'src/api/console', asset), join(outdir, asset));
}
