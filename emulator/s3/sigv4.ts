/**
 * AWS Signature Version 4 verification for the embedded S3 server (docs/design.md §Security).
 * s3rver lets anonymous requests through and accepts any V4 signature without computing it, so
 * the embedded server checks every request here first: an `Authorization: AWS4-HMAC-SHA256 …`
 * header or a presigned query (`X-Amz-Signature`), signed with the stack's S3 key, within the
 * clock skew or expiry, and — for a signed payload hash — a body with that hash.
 *
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html (S3 does not normalize
 * the path: the canonical URI is each segment decoded once and encoded again, RFC 3986).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';

export const SIGV4_ALGORITHM = 'AWS4-HMAC-SHA256';
/** How far a request's X-Amz-Date may be from the server's clock (S3's limit). */
export const MAX_CLOCK_SKEW_MS = 15 * 60 * 1000;
/** S3's longest presigned URL lifetime (X-Amz-Expires, seconds). */
export const MAX_PRESIGNED_EXPIRES_SECONDS = 7 * 24 * 3600;
export const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
/** The longest Authorization header looked at. */
const MAX_AUTHORIZATION_LENGTH = 4096;

export interface S3Credentials {
  accessKeyId: string;
  secretAccessKey: string;
}

export class S3AuthError extends Error {
  override name = 'S3AuthError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface SigV4Request {
  method: string;
  /** The request target as sent: path and query, still percent-encoded. */
  url: string;
  /** Name/value pairs as received (Node's rawHeaders). */
  rawHeaders: readonly string[];
}

export interface VerifiedRequest {
  /** The body's hex SHA-256 the signature covers, or undefined (UNSIGNED-PAYLOAD: not covered). */
  payloadSha256: string | undefined;
}

const denied = (message: string) => new S3AuthError(403, 'AccessDenied', message);
const invalid = (message: string) => new S3AuthError(400, 'AuthorizationQueryParametersError', message);

/** RFC 3986 encoding, as SigV4 canonicalizes (unreserved: A-Z a-z 0-9 - . _ ~). */
function rfc3986(text: string): string {
  return encodeURIComponent(text).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function decode(text: string, what: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    throw new S3AuthError(400, 'InvalidURI', `${what} has a malformed percent-escape`);
  }
}

function canonicalUri(rawPath: string): string {
  return rawPath
    .split('/')
    .map((segment) => rfc3986(decode(segment, 'the request path')))
    .join('/') || '/';
}

function queryPairs(rawQuery: string): [string, string][] {
  if (rawQuery === '') return [];
  return rawQuery
    .split('&')
    .filter((part) => part !== '')
    .map((part) => {
      const eq = part.indexOf('=');
      const key = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      return [decode(key, 'a query parameter name'), decode(value, `the query parameter ${JSON.stringify(key)}`)];
    });
}

function canonicalQuery(pairs: readonly [string, string][]): string {
  return pairs
    .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
    .sort(([ak, av], [bk, bv]) => (ak < bk ? -1 : ak > bk ? 1 : av < bv ? -1 : av > bv ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}

function headerMap(rawHeaders: readonly string[]): Map<string, string> {
  const map = new Map<string, string>();
  for (let i = 0; i + 1 < rawHeaders.length; i += 2) {
    const name = (rawHeaders[i] as string).toLowerCase();
    const value = (rawHeaders[i + 1] as string).trim().replace(/\s+/g, ' ');
    map.set(name, map.has(name) ? `${map.get(name) as string},${value}` : value);
  }
  return map;
}

const sha256Hex = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data, 'utf8').digest();

/** Parses `YYYYMMDD'T'HHMMSS'Z'`. */
function parseAmzDate(text: string | undefined): Date {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text ?? '');
  if (!m) throw denied('X-Amz-Date is missing or not of the form YYYYMMDDTHHMMSSZ');
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6])));
  if (Number.isNaN(date.getTime())) throw denied('X-Amz-Date is not a valid time');
  return date;
}

function signatureMatches(presented: string, expected: string): boolean {
  if (!/^[0-9a-f]{64}$/.test(presented)) return false;
  return timingSafeEqual(Buffer.from(presented, 'hex'), Buffer.from(expected, 'hex'));
}

interface Parts {
  credential: string;
  signedHeaders: string;
  signature: string;
  amzDate: string | undefined;
  payloadHash: string;
  query: [string, string][];
  presigned: boolean;
}

/**
 * Verifies a request's SigV4 signature against `credentials`; throws S3AuthError (403 for a
 * missing or wrong signature, 400 for a malformed one). Anonymous requests are refused.
 */
export function verifySigV4(req: SigV4Request, credentials: S3Credentials, now: Date = new Date()): VerifiedRequest {
  const q = req.url.indexOf('?');
  const rawPath = q < 0 ? req.url : req.url.slice(0, q);
  const rawQuery = q < 0 ? '' : req.url.slice(q + 1);
  if (!rawPath.startsWith('/')) throw new S3AuthError(400, 'InvalidURI', 'the request target must be a path');
  const headers = headerMap(req.rawHeaders);
  const pairs = queryPairs(rawQuery);
  const authorization = headers.get('authorization');
  const presignedSignature = pairs.find(([k]) => k === 'X-Amz-Signature');
  let parts: Parts;
  if (authorization !== undefined && presignedSignature) {
    throw new S3AuthError(400, 'InvalidArgument', 'only one auth mechanism allowed: the Authorization header or X-Amz-Signature, not both');
  }
  if (authorization !== undefined) {
    if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw denied('the Authorization header is too long');
    const m = /^AWS4-HMAC-SHA256 +Credential=([^, ]+), *SignedHeaders=([^, ]+), *Signature=([^, ]+)$/.exec(authorization);
    if (!m) throw denied('the Authorization header must be an AWS4-HMAC-SHA256 signature (Credential, SignedHeaders, Signature)');
    const payloadHash = headers.get('x-amz-content-sha256');
    if (payloadHash === undefined) throw new S3AuthError(400, 'InvalidRequest', 'the x-amz-content-sha256 header is required');
    parts = { credential: m[1] as string, signedHeaders: m[2] as string, signature: m[3] as string, amzDate: headers.get('x-amz-date'), payloadHash, query: pairs, presigned: false };
  } else if (presignedSignature) {
    const get = (name: string) => pairs.find(([k]) => k === name)?.[1];
    if (get('X-Amz-Algorithm') !== SIGV4_ALGORITHM) throw invalid(`X-Amz-Algorithm must be ${SIGV4_ALGORITHM}`);
    const expires = Number(get('X-Amz-Expires'));
    if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGNED_EXPIRES_SECONDS) {
      throw invalid(`X-Amz-Expires must be a whole number of seconds from 1 to ${MAX_PRESIGNED_EXPIRES_SECONDS}`);
    }
    const signedAt = parseAmzDate(get('X-Amz-Date'));
    if (now.getTime() > signedAt.getTime() + expires * 1000) throw denied('Request has expired');
    parts = {
      credential: get('X-Amz-Credential') ?? '',
      signedHeaders: get('X-Amz-SignedHeaders') ?? '',
      signature: presignedSignature[1],
      amzDate: get('X-Amz-Date'),
      payloadHash: UNSIGNED_PAYLOAD,
      query: pairs.filter(([k]) => k !== 'X-Amz-Signature'),
      presigned: true,
    };
  } else {
    throw denied('anonymous requests are not accepted: sign requests with the stack\'s S3 key (AWS Signature Version 4)');
  }

  const [accessKeyId, scopeDate, region, service, terminator, ...rest] = parts.credential.split('/');
  if (!accessKeyId || !scopeDate || !region || service !== 's3' || terminator !== 'aws4_request' || rest.length > 0) {
    throw denied('the Credential must be <AccessKeyId>/<YYYYMMDD>/<region>/s3/aws4_request');
  }
  if (accessKeyId !== credentials.accessKeyId) {
    throw new S3AuthError(403, 'InvalidAccessKeyId', 'The AWS Access Key Id you provided does not exist in our records.');
  }
  const signedAt = parseAmzDate(parts.amzDate);
  if (!parts.presigned && Math.abs(now.getTime() - signedAt.getTime()) > MAX_CLOCK_SKEW_MS) {
    throw new S3AuthError(403, 'RequestTimeTooSkewed', 'The difference between the request time and the server\'s time is too large.');
  }
  if (parts.amzDate?.slice(0, 8) !== scopeDate) throw denied('the Credential scope date is not the date of X-Amz-Date');
  const signedNames = parts.signedHeaders.split(';');
  if (!signedNames.includes('host')) throw denied('SignedHeaders must include host');
  if (signedNames.some((name) => name !== name.toLowerCase() || name === '')) throw denied('SignedHeaders must be lowercase header names');
  const canonicalHeaders = signedNames.map((name) => `${name}:${headers.get(name) ?? ''}\n`).join('');
  const canonicalRequest = [req.method, canonicalUri(rawPath), canonicalQuery(parts.query), canonicalHeaders, parts.signedHeaders, parts.payloadHash].join('\n');
  const scope = `${scopeDate}/${region}/s3/aws4_request`;
  const stringToSign = [SIGV4_ALGORITHM, parts.amzDate, scope, sha256Hex(canonicalRequest)].join('\n');
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, scopeDate), region), 's3'), 'aws4_request');
  const expected = hmac(signingKey, stringToSign).toString('hex');
  if (!signatureMatches(parts.signature, expected)) {
    throw new S3AuthError(403, 'SignatureDoesNotMatch', 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
  }
  if (parts.payloadHash === UNSIGNED_PAYLOAD) return { payloadSha256: undefined };
  if (/^[0-9a-f]{64}$/.test(parts.payloadHash)) return { payloadSha256: parts.payloadHash };
  throw new S3AuthError(400, 'InvalidRequest', 'x-amz-content-sha256 must be the hex SHA-256 of the body or UNSIGNED-PAYLOAD (streaming uploads are not supported)');
}

/** Whether a body has the hex SHA-256 the signature covers (constant time). */
export function payloadMatches(body: Buffer, sha256: string): boolean {
  return timingSafeEqual(Buffer.from(sha256Hex(body), 'hex'), Buffer.from(sha256, 'hex'));
}
