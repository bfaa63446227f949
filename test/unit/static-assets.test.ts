/**
 * adapters/fc/static-assets.ts without a stack: a folder found empty (the console not built
 * yet) is looked at again on the next request, and every answer — 404 and 405 included —
 * carries the security headers.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../adapters/fc/http.ts';
import { SECURITY_HEADERS, staticSite } from '../../adapters/fc/static-assets.ts';

const request = (method: string, p: string): HttpRequest => ({ method, path: p, headers: {}, query: {}, body: Buffer.alloc(0), sourceIp: '', requestId: 'r-1', host: '' });

describe('staticSite', () => {
  let dir = '';
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('does not remember an empty folder: files built later are served', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tk-static-'));
    const site = staticSite({ prefix: '/console', dir: () => dir });
    const before = site.respond(request('GET', '/console'));
    expect(before?.statusCode).toBe(404);
    expect(String(before?.body)).toContain('npm run build');
    expect(before?.headers).toMatchObject(SECURITY_HEADERS);
    writeFileSync(path.join(dir, 'index.html'), '<!doctype html><title>x</title>');
    const after = site.respond(request('GET', '/console'));
    expect(after?.statusCode).toBe(200);
    expect(after?.headers).toMatchObject({ ...SECURITY_HEADERS, 'content-type': 'text/html; charset=utf-8' });
    expect(site.respond(request('GET', '/elsewhere'))).toBeUndefined();
  });

  it('refuses other methods with the security headers too', () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tk-static-'));
    const res = staticSite({ prefix: '/console', dir: () => dir }).respond(request('POST', '/console'));
    expect(res?.statusCode).toBe(405);
    expect(res?.headers).toMatchObject({ ...SECURITY_HEADERS, allow: 'GET, HEAD', 'x-content-type-options': 'nosniff' });
  });
});
