/**
 * Alibaba Cloud ACS3-HMAC-SHA256 request signature ("signature method V3").
 *
 * Source: https://alibabacloud.com/help/en/sdk/product-overview/v3-request-structure-and-signature
 *   CanonicalRequest = HTTPRequestMethod + '\n' + CanonicalURI + '\n' + CanonicalQueryString + '\n'
 *                      + CanonicalHeaders + '\n' + SignedHeaders + '\n' + HashedRequestPayload
 *     CanonicalHeaders = for each signed header (lower-cased, sorted): name + ':' + trim(value) + '\n'
 *     (so the canonical request contains an empty line between the headers and SignedHeaders)
 *   HashedRequestPayload = HexEncode(SHA256(body))   (also sent as x-acs-content-sha256)
 *   StringToSign = 'ACS3-HMAC-SHA256' + '\n' + HexEncode(SHA256(CanonicalRequest))
 *   Signature    = HexEncode(HMAC-SHA256(AccessKeySecret, StringToSign))   (raw secret, no '&')
 *   Authorization: ACS3-HMAC-SHA256 Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>
 * Headers that take part: host, content-type and every x-acs-* header.
 *
 * Pure: no I/O besides node:crypto.
 */
import { createHash, createHmac, randomUUID } from 'node:crypto';
import { compareCodeUnits, percentEncode } from './percent-encode.ts';
import { formatAcsTimestamp } from './rpc-signature.ts';

export const ACS3_ALGORITHM = 'ACS3-HMAC-SHA256';

/** Lower-case hex SHA-256 of the request body (empty body => hash of ""). */
export function hashPayload(body: Buffer | string): string {
  const hash = createHash('sha256');
  if (typeof body === 'string') hash.update(body, 'utf8');
  else hash.update(body);
  return hash.digest('hex');
}

export interface Acs3CanonicalInput {
  method: string;
  /** Decoded resource path (no query). Each '/'-separated segment is percent-encoded. RPC-style APIs use '/'. */
  path: string;
  /** Decoded query parameters. Array values become repeated `k=v` pairs. */
  query: Record<string, string | string[]>;
  /** Request headers; name lookup is case-insensitive. */
  headers: Record<string, string>;
  /** Names of headers to sign; lower-cased, de-duplicated and sorted here. */
  signedHeaders: string[];
  /** hex SHA-256 of the body, see {@link hashPayload}. */
  hashedPayload: string;
}

export function canonicalUri(path: string): string {
  if (path === '' || path === '/') return '/';
  const withSlash = path.startsWith('/') ? path : `/${path}`;
  return withSlash.split('/').map(percentEncode).join('/');
}

export function canonicalQueryString(query: Record<string, string | string[]>): string {
  const pairs: Array<[string, string]> = [];
  for (const [name, value] of Object.entries(query)) {
    const values = Array.isArray(value) ? value : [value];
    for (const v of values) pairs.push([percentEncode(name), percentEncode(v)]);
  }
  pairs.sort((a, b) => compareCodeUnits(a[0], b[0]) || compareCodeUnits(a[1], b[1]));
  return pairs.map(([k, v]) => `${k}=${v}`).join('&');
}

/** Lower-cased, de-duplicated, sorted header names. */
export function normalizeSignedHeaders(names: readonly string[]): string[] {
  return [...new Set(names.map((n) => n.trim().toLowerCase()).filter((n) => n !== ''))].sort(compareCodeUnits);
}

function lowerCaseHeaders(headers: Record<string, string>): Map<string, string> {
  const map = new Map<string, string>();
  for (const [name, value] of Object.entries(headers)) map.set(name.toLowerCase(), value);
  return map;
}

/** Throws if a signed header is absent from `headers`. */
export function canonicalRequest(input: Acs3CanonicalInput): string {
  const headers = lowerCaseHeaders(input.headers);
  const signed = normalizeSignedHeaders(input.signedHeaders);
  let canonicalHeaders = '';
  for (const name of signed) {
    const value = headers.get(name);
    if (value === undefined) throw new Error(`signed header "${name}" is not present in the request headers`);
    canonicalHeaders += `${name}:${value.trim()}\n`;
  }
  return [
    input.method.toUpperCase(),
    canonicalUri(input.path),
    canonicalQueryString(input.query),
    canonicalHeaders,
    signed.join(';'),
    input.hashedPayload,
  ].join('\n');
}

export function acs3StringToSign(canonicalRequestText: string): string {
  return `${ACS3_ALGORITHM}\n${createHash('sha256').update(canonicalRequestText, 'utf8').digest('hex')}`;
}

/** Lower-case hex HMAC-SHA256 signature for the request described by `input`. */
export function signAcs3(input: Acs3CanonicalInput, accessKeySecret: string): string {
  return createHmac('sha256', accessKeySecret)
    .update(acs3StringToSign(canonicalRequest(input)), 'utf8')
    .digest('hex');
}

export function formatAcs3Authorization(accessKeyId: string, signedHeaders: readonly string[], signature: string): string {
  return `${ACS3_ALGORITHM} Credential=${accessKeyId},SignedHeaders=${normalizeSignedHeaders(signedHeaders).join(';')},Signature=${signature}`;
}

export interface ParsedAcs3Authorization {
  accessKeyId: string;
  /** As listed in the header, lower-cased. */
  signedHeaders: string[];
  /** Lower-case hex. */
  signature: string;
}

/** Parses `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=a;b,Signature=<64 hex>`; null if malformed. */
export function parseAcs3Authorization(header: string): ParsedAcs3Authorization | null {
  const trimmed = header.trim();
  if (!trimmed.startsWith(`${ACS3_ALGORITHM} `)) return null;
  const fields = new Map<string, string>();
  for (const part of trimmed.slice(ACS3_ALGORITHM.length + 1).split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) return null;
    const key = part.slice(0, eq).trim();
    const value = part.slice(eq + 1).trim();
    if (value === '' || fields.has(key)) return null;
    if (key !== 'Credential' && key !== 'SignedHeaders' && key !== 'Signature') return null;
    fields.set(key, value);
  }
  const accessKeyId = fields.get('Credential');
  const signedHeadersRaw = fields.get('SignedHeaders');
  const signature = fields.get('Signature');
  if (accessKeyId === undefined || signedHeadersRaw === undefined || signature === undefined) return null;
  if (!/^[0-9a-fA-F]{64}$/.test(signature)) return null;
  const signedHeaders = signedHeadersRaw.split(';').map((h) => h.trim().toLowerCase());
  if (signedHeaders.some((h) => h === '')) return null;
  return { accessKeyId, signedHeaders, signature: signature.toLowerCase() };
}

/** Headers that must be signed when present: host, content-type and x-acs-*. */
export function isAcs3SignableHeader(lowerCaseName: string): boolean {
  return lowerCaseName === 'host' || lowerCaseName === 'content-type' || lowerCaseName.startsWith('x-acs-');
}

export interface SignAcs3RequestInput {
  method: string;
  path: string;
  query?: Record<string, string | string[]>;
  /** Must include `host`. Any `authorization` header is replaced. */
  headers: Record<string, string>;
  body?: Buffer | string;
  accessKeyId: string;
  accessKeySecret: string;
  /** Defaults to a random UUID (dashes removed). */
  nonce?: string;
  /** Defaults to now; a string is used verbatim. */
  date?: Date | string;
}

/**
 * Returns the complete header set to send (names lower-cased): the caller's headers plus
 * x-acs-date, x-acs-signature-nonce, x-acs-content-sha256 and authorization.
 * Signs host, content-type and every x-acs-* header.
 */
export function signAcs3Request(input: SignAcs3RequestInput): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(input.headers)) {
    const lower = name.toLowerCase();
    if (lower !== 'authorization') out[lower] = value;
  }
  if (out['host'] === undefined || out['host'].trim() === '') {
    throw new Error('signAcs3Request: headers.host is required');
  }
  const hashedPayload = hashPayload(input.body ?? '');
  out['x-acs-content-sha256'] = hashedPayload;
  out['x-acs-date'] =
    input.date === undefined
      ? formatAcsTimestamp(new Date())
      : typeof input.date === 'string'
        ? input.date
        : formatAcsTimestamp(input.date);
  out['x-acs-signature-nonce'] = input.nonce ?? randomUUID().replace(/-/g, '');

  const signedHeaders = normalizeSignedHeaders(Object.keys(out).filter(isAcs3SignableHeader));
  const signature = signAcs3(
    {
      method: input.method,
      path: input.path,
      query: input.query ?? {},
      headers: out,
      signedHeaders,
      hashedPayload,
    },
    input.accessKeySecret,
  );
  out['authorization'] = formatAcs3Authorization(input.accessKeyId, signedHeaders, signature);
  return out;
}
