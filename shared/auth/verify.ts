/**
 * Server-side verification of Alibaba Cloud signed requests (RPC HMAC-SHA1 v1.0 and
 * ACS3-HMAC-SHA256). Pure: key storage and nonce storage are injected.
 *
 * Order of checks: completeness -> timestamp window -> key lookup -> signature -> nonce claim
 * (the nonce is claimed last so that a request with a bad signature cannot burn a nonce).
 *
 * Error messages name the offending field and never contain the secret or the expected signature.
 */
import { timingSafeEqual } from 'node:crypto';
import {
  ACS3_ALGORITHM,
  hashPayload,
  isAcs3SignableHeader,
  parseAcs3Authorization,
  signAcs3,
} from './acs3-signature.ts';
import {
  RPC_SIGNATURE_METHOD,
  RPC_SIGNATURE_VERSION,
  formatAcsTimestamp,
  signRpc,
  type RpcMethod,
} from './rpc-signature.ts';

export type SignatureErrorCode =
  | 'IncompleteSignature'
  | 'SignatureDoesNotMatch'
  | 'InvalidAccessKeyId.NotFound'
  | 'InvalidAccessKeyId.Inactive'
  | 'SignatureNonceUsed'
  | 'InvalidTimeStamp.Expired'
  | 'InvalidTimeStamp.Format'
  | 'MissingParameter';

/**
 * HTTP statuses as documented by Alibaba Cloud for its API gateway's common client errors:
 *  - "管控OpenAPI的客户端公用错误码" (https://developer.aliyun.com/ask/278265):
 *    InvalidAccessKeyId.NotFound 404, InvalidAccessKeyId.Inactive 400, InvalidTimeStamp.Format 400,
 *    InvalidTimeStamp.Expired 400, SignatureNonceUsed 400, SignatureDoesNotMatch 400, Missing{Param} 400.
 *  - Client error codes (https://help.aliyun.com/document_detail/51132.html):
 *    IncompleteSignature 400, MissingParameter 400, InvalidAccessKeyId.NotFound 404.
 * (Some individual products document other values, e.g. Alibaba Cloud DNS lists
 * SignatureDoesNotMatch as 403; we follow the common gateway table.)
 */
export const SIGNATURE_ERROR_HTTP_STATUS: Readonly<Record<SignatureErrorCode, number>> = {
  IncompleteSignature: 400,
  SignatureDoesNotMatch: 400,
  'InvalidAccessKeyId.NotFound': 404,
  'InvalidAccessKeyId.Inactive': 400,
  SignatureNonceUsed: 400,
  'InvalidTimeStamp.Expired': 400,
  'InvalidTimeStamp.Format': 400,
  MissingParameter: 400,
};

export class SignatureError extends Error {
  readonly code: SignatureErrorCode;
  readonly httpStatus: number;

  constructor(code: SignatureErrorCode, message: string) {
    super(message);
    this.name = 'SignatureError';
    this.code = code;
    this.httpStatus = SIGNATURE_ERROR_HTTP_STATUS[code];
  }
}

export interface SignedRequest {
  method: string;
  /** Decoded path without query string. */
  path: string;
  /** Decoded query parameters. */
  query: Record<string, string>;
  /** Header names lower-cased (they are lower-cased again defensively). */
  headers: Record<string, string>;
  body: Buffer;
}

export interface KeyLookup {
  (accessKeyId: string): Promise<{ accountId: string; accessKeySecret: string; enabled: boolean } | null>;
}

export interface NonceStore {
  /** Atomically records the nonce; resolves false if it was already used. */
  claim(accessKeyId: string, nonce: string, ttlSeconds: number): Promise<boolean>;
}

export interface VerifiedRequest {
  accountId: string;
  accessKeyId: string;
  scheme: 'rpc-v1' | 'acs3';
}

/** Both the V2 (RPC) and V3 docs: the timestamp must be within 15 minutes of server time. */
export const SIGNATURE_MAX_CLOCK_SKEW_SECONDS = 900;
export const SIGNATURE_NONCE_TTL_SECONDS = 900;

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;

/** Parses `YYYY-MM-DDThh:mm:ssZ` strictly (must be a real UTC instant); null if malformed. */
export function parseAcsTimestamp(value: string): number | null {
  if (!TIMESTAMP_RE.test(value)) return null;
  const ms = Date.parse(value);
  if (Number.isNaN(ms) || formatAcsTimestamp(new Date(ms)) !== value) return null;
  return ms;
}

function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}

function lowerCaseKeys(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

/** Returns the nonce TTL: at least the configured TTL, and long enough to outlive the timestamp's validity. */
function checkTimestamp(field: string, value: string, now: Date): number {
  const ts = parseAcsTimestamp(value);
  if (ts === null) {
    throw new SignatureError(
      'InvalidTimeStamp.Format',
      `${field} "${value}" is not a UTC timestamp of the form YYYY-MM-DDThh:mm:ssZ`,
    );
  }
  const skewMs = SIGNATURE_MAX_CLOCK_SKEW_SECONDS * 1000;
  if (Math.abs(now.getTime() - ts) > skewMs) {
    throw new SignatureError(
      'InvalidTimeStamp.Expired',
      `${field} "${value}" differs from server time by more than ${SIGNATURE_MAX_CLOCK_SKEW_SECONDS} seconds`,
    );
  }
  const remainingValiditySeconds = Math.ceil((ts + skewMs - now.getTime()) / 1000);
  return Math.max(SIGNATURE_NONCE_TTL_SECONDS, remainingValiditySeconds);
}

async function lookupKey(
  keys: KeyLookup,
  accessKeyId: string,
  field: string,
): Promise<{ accountId: string; accessKeySecret: string }> {
  const key = await keys(accessKeyId);
  if (key === null) {
    throw new SignatureError('InvalidAccessKeyId.NotFound', `${field} "${accessKeyId}" does not exist`);
  }
  if (!key.enabled) {
    throw new SignatureError('InvalidAccessKeyId.Inactive', `${field} "${accessKeyId}" is disabled`);
  }
  return key;
}

async function claimNonce(nonces: NonceStore, accessKeyId: string, nonce: string, ttl: number, field: string): Promise<void> {
  if (!(await nonces.claim(accessKeyId, nonce, ttl))) {
    throw new SignatureError('SignatureNonceUsed', `${field} "${nonce}" has already been used`);
  }
}

const ACS3_REQUIRED_HEADERS = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'] as const;

async function verifyAcs3(
  req: SignedRequest,
  headers: Record<string, string>,
  authorization: string,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date,
): Promise<VerifiedRequest> {
  // 1. completeness
  const auth = parseAcs3Authorization(authorization);
  if (auth === null) {
    throw new SignatureError(
      'IncompleteSignature',
      `authorization header is malformed; expected "${ACS3_ALGORITHM} Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>"`,
    );
  }
  for (const name of ACS3_REQUIRED_HEADERS) {
    const value = headers[name];
    if (value === undefined || value.trim() === '') {
      throw new SignatureError('IncompleteSignature', `required header ${name} is missing`);
    }
    if (!auth.signedHeaders.includes(name)) {
      throw new SignatureError('IncompleteSignature', `SignedHeaders must include ${name}`);
    }
  }
  for (const name of auth.signedHeaders) {
    if (headers[name] === undefined) {
      throw new SignatureError('IncompleteSignature', `signed header ${name} is not present in the request`);
    }
  }
  for (const name of Object.keys(headers)) {
    if (isAcs3SignableHeader(name) && !auth.signedHeaders.includes(name)) {
      throw new SignatureError('IncompleteSignature', `header ${name} is present but not listed in SignedHeaders`);
    }
  }
  const date = (headers['x-acs-date'] ?? '').trim();
  const nonce = (headers['x-acs-signature-nonce'] ?? '').trim();
  const claimedPayloadHash = (headers['x-acs-content-sha256'] ?? '').trim();

  // 2. timestamp window
  const nonceTtl = checkTimestamp('x-acs-date', date, now);

  // 3. key lookup
  const key = await lookupKey(keys, auth.accessKeyId, 'Credential');

  // 4. signature (body hash first: the signature only covers the declared hash)
  const actualPayloadHash = hashPayload(req.body);
  if (!safeEqual(claimedPayloadHash.toLowerCase(), actualPayloadHash)) {
    throw new SignatureError('SignatureDoesNotMatch', 'x-acs-content-sha256 does not match the SHA-256 of the request body');
  }
  const expected = signAcs3(
    {
      method: req.method,
      path: req.path,
      query: req.query,
      headers,
      signedHeaders: auth.signedHeaders,
      hashedPayload: claimedPayloadHash,
    },
    key.accessKeySecret,
  );
  if (!safeEqual(auth.signature, expected)) {
    throw new SignatureError(
      'SignatureDoesNotMatch',
      'authorization Signature does not match the signature computed for this request',
    );
  }

  // 5. nonce
  await claimNonce(nonces, auth.accessKeyId, nonce, nonceTtl, 'x-acs-signature-nonce');
  return { accountId: key.accountId, accessKeyId: auth.accessKeyId, scheme: 'acs3' };
}

function isFormContentType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  return (contentType.split(';')[0] ?? '').trim().toLowerCase() === 'application/x-www-form-urlencoded';
}

/** Query merged with a form-urlencoded body. A parameter given twice with different values is rejected. */
function collectRpcParams(req: SignedRequest, headers: Record<string, string>): Record<string, string> {
  const params: Record<string, string> = { ...req.query };
  if (isFormContentType(headers['content-type']) && req.body.length > 0) {
    const fromBody = new Set<string>();
    for (const [name, value] of new URLSearchParams(req.body.toString('utf8'))) {
      const existing = params[name];
      if (existing !== undefined && existing !== value) {
        const where = fromBody.has(name) ? 'the request body' : 'both the query string and the request body';
        throw new SignatureError(
          'IncompleteSignature',
          `parameter ${name} appears more than once in ${where} with different values`,
        );
      }
      params[name] = value;
      fromBody.add(name);
    }
  }
  return params;
}

const RPC_REQUIRED_PARAMS = [
  'Signature',
  'AccessKeyId',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'Timestamp',
] as const;

async function verifyRpc(
  req: SignedRequest,
  headers: Record<string, string>,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date,
): Promise<VerifiedRequest> {
  // 1. completeness
  const params = collectRpcParams(req, headers);
  for (const name of RPC_REQUIRED_PARAMS) {
    const value = params[name];
    if (value === undefined || value === '') {
      throw new SignatureError('IncompleteSignature', `required parameter ${name} is missing`);
    }
  }
  if (params['SignatureMethod'] !== RPC_SIGNATURE_METHOD) {
    throw new SignatureError('IncompleteSignature', `SignatureMethod must be ${RPC_SIGNATURE_METHOD}`);
  }
  if (params['SignatureVersion'] !== RPC_SIGNATURE_VERSION) {
    throw new SignatureError('IncompleteSignature', `SignatureVersion must be ${RPC_SIGNATURE_VERSION}`);
  }
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') {
    throw new SignatureError('IncompleteSignature', `HTTP method ${method} cannot carry an RPC (HMAC-SHA1) signature`);
  }
  const rpcMethod: RpcMethod = method;
  const signature = params['Signature'] ?? '';
  const accessKeyId = params['AccessKeyId'] ?? '';
  const nonce = params['SignatureNonce'] ?? '';

  // 2. timestamp window
  const nonceTtl = checkTimestamp('Timestamp', params['Timestamp'] ?? '', now);

  // 3. key lookup
  const key = await lookupKey(keys, accessKeyId, 'AccessKeyId');

  // 4. signature
  if (!safeEqual(signature, signRpc(rpcMethod, params, key.accessKeySecret))) {
    throw new SignatureError('SignatureDoesNotMatch', 'Signature does not match the signature computed for this request');
  }

  // 5. nonce
  await claimNonce(nonces, accessKeyId, nonce, nonceTtl, 'SignatureNonce');
  return { accountId: key.accountId, accessKeyId, scheme: 'rpc-v1' };
}

/**
 * Verifies an Alibaba Cloud signed request. An `authorization` header starting with
 * ACS3-HMAC-SHA256 selects V3; anything else is treated as an RPC v1.0 request whose
 * parameters come from the query string merged with a form-urlencoded body.
 * Throws {@link SignatureError} on any failure; errors from `keys`/`nonces` propagate as-is.
 */
export async function verifyRequest(
  req: SignedRequest,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date = new Date(),
): Promise<VerifiedRequest> {
  const headers = lowerCaseKeys(req.headers);
  const authorization = headers['authorization'];
  if (authorization !== undefined && authorization.trimStart().startsWith(ACS3_ALGORITHM)) {
    return verifyAcs3(req, headers, authorization, keys, nonces, now);
  }
  return verifyRpc(req, headers, keys, nonces, now);
}
