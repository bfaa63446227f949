/**
 * Serves a folder of browser files that ships inside a function's bundle (the console: see
 * emulator/build.ts, `functions/<name>/web/` → `dist/<name>/web/`) under one URL prefix.
 *
 * The folder is read once, on the first request, and kept in memory (a few small text files).
 * Every answer (404, 405 and 304 included) carries a strict Content-Security-Policy
 * (same-origin scripts, styles and calls only; no inline script or style; Trusted Types
 * enforced with no policy, so no string ever becomes HTML or script), `nosniff`, no framing and
 * no referrer; files are revalidated by ETag (`no-cache` + 304), so a new deployment is picked
 * up at once. A folder found empty is not remembered: the next request looks again.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { HttpRequest, HttpResponse } from './http.ts';
import { json } from './http.ts';

export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  // The console builds the DOM from text only: no innerHTML, eval or script URLs to allow.
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
};

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

interface Asset {
  body: string;
  contentType: string;
  etag: string;
}

export interface StaticSite {
  /** The answer for `request` when its path is under the prefix; undefined otherwise. */
  respond(request: HttpRequest): HttpResponse | undefined;
}

function loadAssets(dir: string): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  if (!existsSync(dir)) return assets;
  for (const name of readdirSync(dir)) {
    const contentType = CONTENT_TYPES[path.extname(name)];
    if (!contentType) continue;
    const body = readFileSync(path.join(dir, name), 'utf8');
    const etag = `"${createHash('sha256').update(body, 'utf8').digest('base64url').slice(0, 27)}"`;
    assets.set(name, { body, contentType, etag });
  }
  return assets;
}

/**
 * `prefix` (e.g. `/console`) and `prefix/` answer `index.html`; `prefix/<file>` a file of the
 * folder; anything else under the prefix 404. `dir` is resolved at the first request.
 */
function missing(request: HttpRequest, noFiles: boolean): HttpResponse {
  const message = noFiles ? 'the console files are missing from this bundle; build it with npm run build' : `no file ${request.path}`;
  return json(404, { RequestId: request.requestId, Code: 'NotFound', Message: message }, SECURITY_HEADERS);
}

export function staticSite(options: { prefix: string; dir: () => string; index?: string }): StaticSite {
  const index = options.index ?? 'index.html';
  let assets: Map<string, Asset> | undefined;
  return {
    respond(request) {
      const { prefix } = options;
      if (request.path !== prefix && !request.path.startsWith(`${prefix}/`)) return undefined;
      if (request.method !== 'GET' && request.method !== 'HEAD') {
        return json(405, { RequestId: request.requestId, Code: 'MethodNotAllowed', Message: `${request.method} is not allowed on ${request.path}` }, { ...SECURITY_HEADERS, allow: 'GET, HEAD' });
      }
      if (!assets) {
        const found = loadAssets(options.dir());
        // An empty folder (files not built yet) is looked at again next time, not kept.
        if (found.size > 0) assets = found;
        else return missing(request, true);
      }
      const rest = request.path.slice(prefix.length + 1);
      const name = rest === '' ? index : rest;
      const asset = assets.get(name);
      if (!asset) return missing(request, false);
      const headers = { ...SECURITY_HEADERS, 'content-type': asset.contentType, 'cache-control': 'no-cache', etag: asset.etag };
      if (request.headers['if-none-match'] === asset.etag) return { statusCode: 304, headers };
      return { statusCode: 200, headers, body: request.method === 'HEAD' ? '' : asset.body };
    },
  };
}
