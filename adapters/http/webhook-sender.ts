/**
 * Outbound webhook requests of alerts (docs/design.md §3.12): one POST of JSON, with a bounded
 * timeout and a bounded read of the answer, no redirect followed, and the host's every resolved
 * address checked against shared/alerts/address-policy.ts before the connection is made — the
 * connection goes to the address that was checked (no second lookup to rebind). Errors are
 * returned, never thrown, and never carry the URL (it is a secret).
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { blockedAddress } from '../../shared/alerts/address-policy.ts';
import type { SendRequest } from '../../shared/alerts/engine.ts';

/** A send gives up after this long (connect, request and answer together). */
export const WEBHOOK_TIMEOUT_MS = 5_000;
/** Most bytes of an answer read (the rest is dropped). */
export const WEBHOOK_MAX_ANSWER_BYTES = 8 * 1024;
export const WEBHOOK_USER_AGENT = 'TrailKeeper-Alerts/1';

class BlockedAddressError extends Error {
  override name = 'BlockedAddressError';
}

/** A lookup that resolves every address of the host and refuses the host if any is blocked. */
function checkedLookup(allowPrivate: boolean): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { all: true, family: options.family ?? 0 }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      const list = addresses;
      for (const a of list) {
        const why = blockedAddress(a.address, allowPrivate);
        if (why) return callback(new BlockedAddressError(why), '', 0);
      }
      const first = list[0];
      if (!first) return callback(new Error('the host has no address'), '', 0);
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, list);
      return callback(null, first.address, first.family);
    });
  };
}

function describe(error: unknown): string {
  if (error instanceof BlockedAddressError) return `refused: ${error.message}`;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') return `connection failed: ${code}`;
  return 'connection failed';
}

export function webhookSender(options: { allowPrivateNetworks: boolean; timeoutMs?: number }): SendRequest {
  const timeoutMs = options.timeoutMs ?? WEBHOOK_TIMEOUT_MS;
  const lookup = checkedLookup(options.allowPrivateNetworks);
  return (urlText, body) =>
    new Promise((resolve) => {
      let url: URL;
      try {
        url = new URL(urlText);
      } catch {
        resolve({ error: 'the URL is not valid' });
        return;
      }
      const host = url.hostname.replace(/^\[|\]$/g, '');
      // a literal address is checked here (no lookup is made for it)
      if (isIP(host) !== 0) {
        const why = blockedAddress(host, options.allowPrivateNetworks);
        if (why) {
          resolve({ error: `refused: ${why}` });
          return;
        }
      }
      const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
      if (!client) {
        resolve({ error: 'the URL is not http or https' });
        return;
      }
      let settled = false;
      const done = (value: { status: number; body: string } | { error: string }) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(value);
      };
      const request = client.request(
        url,
        {
          method: 'POST',
          lookup,
          headers: { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(body), 'user-agent': WEBHOOK_USER_AGENT },
          agent: false,
        },
        (response) => {
          const chunks: Buffer[] = [];
          let size = 0;
          response.on('data', (chunk: Buffer) => {
            if (size >= WEBHOOK_MAX_ANSWER_BYTES) return;
            chunks.push(chunk.subarray(0, WEBHOOK_MAX_ANSWER_BYTES - size));
            size += chunk.length;
            if (size >= WEBHOOK_MAX_ANSWER_BYTES) {
              done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') });
              response.destroy();
            }
          });
          response.on('end', () => done({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
          response.on('error', (error) => done({ error: describe(error) }));
        },
      );
      const timer = setTimeout(() => {
        done({ error: `timed out after ${timeoutMs} ms` });
        request.destroy();
      }, timeoutMs);
      request.on('error', (error) => done({ error: describe(error) }));
      request.end(body);
    });
}
