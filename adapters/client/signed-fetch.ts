/**
 * A small client for TrailKeeper's signed HTTP APIs (used by the command-line tools, tests and
 * benchmarks): ACS3-HMAC-SHA256 for ingest, RPC signature v1 for the lookup API.
 */
import { signAcs3Request } from '../../shared/auth/acs3-signature.ts';
import { signRpcRequest } from '../../shared/auth/rpc-signature.ts';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
}

export interface EventsPostOptions {
  gzip?: boolean;
  contentType?: string;
}

/** The signed headers of `POST /events` to `host` (ACS3-HMAC-SHA256 over the body; `host` included). */
export function signEventsPost(host: string, credentials: Credentials, body: string | Buffer, options: EventsPostOptions = {}): Record<string, string> {
  return signAcs3Request({
    method: 'POST',
    path: '/events',
    headers: {
      host,
      'content-type': options.contentType ?? 'application/json',
      ...(options.gzip ? { 'content-encoding': 'gzip' } : {}),
      'x-acs-action': 'PutEvents',
      'x-acs-version': '2020-07-06',
    },
    body,
    accessKeyId: credentials.accessKeyId,
    accessKeySecret: credentials.accessKeySecret,
  });
}

/** POSTs `body` to `<baseUrl>/events`, signed with ACS3-HMAC-SHA256 (the signature covers the body). */
export async function postEvents(baseUrl: string, credentials: Credentials, body: string | Buffer, options: EventsPostOptions = {}): Promise<Response> {
  const url = new URL('/events', baseUrl);
  const headers = signEventsPost(url.host, credentials, body, options);
  delete headers['host'];
  return fetch(url, { method: 'POST', headers, body });
}

/** Calls an RPC action (`?Action=…&Version=2020-07-06`), signed with the RPC signature v1. */
export async function callRpc(
  baseUrl: string,
  credentials: Credentials,
  params: Record<string, string>,
  options: { method?: 'GET' | 'POST' } = {},
): Promise<Response> {
  const method = options.method ?? 'GET';
  const signed = signRpcRequest({ method, params: { Version: '2020-07-06', ...params }, ...credentials });
  const form = new URLSearchParams(signed).toString().replace(/\+/g, '%20');
  if (method === 'GET') return fetch(`${new URL('/', baseUrl).toString()}?${form}`);
  return fetch(new URL('/', baseUrl), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form });
}
