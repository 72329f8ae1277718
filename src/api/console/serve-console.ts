// Serves the operator console's files: its page, script and style, and uPlot's from the npm package (no
// CDN: the API may have no internet). The page holds no data: everything it shows comes from /graphql with
// the operator's credential, so the roles of the API (reader to look, admin to act) hold in the console.
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';

const require = createRequire(import.meta.url);
const here = (name: string) => fileURLToPath(new URL(name, import.meta.url));

const files: Record<string, { path: string; type: string }> = {
  '/console': { path: here('index.html'), type: 'text/html; charset=utf-8' },
  '/console/': { path: here('index.html'), type: 'text/html; charset=utf-8' },
  '/console/console.js': { path: here('console.js'), type: 'text/javascript; charset=utf-8' },
  '/console/console.css': { path: here('console.css'), type: 'text/css; charset=utf-8' },
  '/console/uplot.js': { path: require.resolve('uplot/dist/uPlot.esm.js'), type: 'text/javascript; charset=utf-8' },
  '/console/uplot.css': { path: require.resolve('uplot/dist/uPlot.min.css'), type: 'text/css; charset=utf-8' },
};

const cache = new Map<string, Buffer>();

const securityHeaders = {
  // Its own files and /graphql only; no inline script; no framing (clickjacking of the admin buttons).
  'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-cache',
};

/** Answers /console and /console/* (the HTTP server routes them here when the role serves the API). */
export async function serveConsole(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const file = files[(req.url ?? '/').split('?')[0]!];
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.writeHead(file ? 405 : 404, { 'content-type': 'application/json', ...securityHeaders }).end(file ? '{"error":"METHOD_NOT_ALLOWED"}' : '{"error":"NOT_FOUND"}');
    return;
  }
  let body = cache.get(file.path);
  if (!body) {
    body = await readFile(file.path);
    cache.set(file.path, body);
  }
  res.writeHead(200, { 'content-type': file.type, 'content-length': body.length, ...securityHeaders });
  res.end(req.method === 'HEAD' ? undefined : body);
}
