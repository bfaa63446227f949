/**
 * Server-side verification of Alibaba Cloud signed requests (RPC HMAC-SHA1 v1.0 and
 * ACS3-HMAC-SHA256). Pure: key storage and nonce storage are injected.
 *
 * Order of checks: completeness and bounds -> timestamp window -> body hash (ACS3) -> key lookup
 * -> signature -> nonce claim. Every field is bounded before the first store call (a 200 KB nonce
 * never reaches Redis), and the nonce is claimed last so that a request with a bad signature
 * cannot burn a nonce (docs/design.md §3).
 *
 * A route says which schemes it accepts: ingest accepts only ACS3, whose x-acs-content-sha256
 * covers the body; the RPC signature covers only the parameters (docs/design.md §3.2).
 * Parameters come from parseRequestParameters (request-params.ts), the very object the
 * dispatcher runs with.
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
import { parseQueryParameters, parseRequestParameters, type ParameterMap, type RequestParameters } from './request-params.ts';
import {
  RPC_SIGNATURE_METHOD,
  RPC_SIGNATURE_VERSION,
  formatAcsTimestamp,
  signRpc,
  type RpcMethod,
} from './rpc-signature.ts';
import { SignatureError, quoteForError } from './signature-error.ts';

export { SIGNATURE_ERROR_HTTP_STATUS, SignatureError, type SignatureErrorCode } from './signature-error.ts';

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

export type SignatureScheme = 'rpc-v1' | 'acs3';

export interface VerifiedRequest {
  accountId: string;
  accessKeyId: string;
  scheme: SignatureScheme;
}

/**
 * A request whose signature is verified but whose nonce is not yet claimed (authenticateRequest).
 * It is authenticated only once claimNonce() has resolved: nothing it asked for may be answered,
 * or written, before.
 */
export interface AuthenticatedRequest extends VerifiedRequest {
  /** Claims the request's nonce (one atomic store call); rejects with SignatureNonceUsed for a replay. */
  claimNonce(): Promise<void>;
}

export interface VerifyOptions {
  /** The schemes the route accepts (default both). Ingest: `['acs3']`, the one that covers the body. */
  schemes?: readonly SignatureScheme[];
  /**
   * The request's parameters as the dispatcher will run them (parseRequestParameters). Parsed
   * here when absent; a dispatcher passes its own so that both read one object.
   */
  params?: RequestParameters;
}

/** Both the V2 (RPC) and V3 docs: the timestamp must be within 15 minutes of server time. */
export const SIGNATURE_MAX_CLOCK_SKEW_SECONDS = 900;
export const SIGNATURE_NONCE_TTL_SECONDS = 900;

// Bounds checked before any store call (docs/design.md §3). Official SDKs send 32–36 character
// nonces and 24–30 character AccessKey ids.
export const SIGNATURE_MAX_NONCE_LENGTH = 128;
export const SIGNATURE_MAX_ACCESS_KEY_ID_LENGTH = 128;
/** AccessKey ids: `LTAI5t…`, STS `STS.…`. */
const ACCESS_KEY_ID_RE = /^[A-Za-z0-9._-]+$/;
/** An RPC signature is 28 base64 characters (HMAC-SHA1); anything past this is refused unread. */
export const RPC_MAX_SIGNATURE_LENGTH = 64;
export const ACS3_MAX_AUTHORIZATION_LENGTH = 4096;
export const ACS3_MAX_SIGNED_HEADERS = 32;
/** Longest value of a signed header (host, content-type, x-acs-*). */
export const ACS3_MAX_SIGNED_HEADER_VALUE_LENGTH = 4096;

const TIMESTAMP_RE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/;
const SHA256_HEX_RE = /^[0-9a-fA-F]{64}$/;

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
  const out = Object.create(null) as Record<string, string>;
  for (const [name, value] of Object.entries(headers)) out[name.toLowerCase()] = value;
  return out;
}

function checkLength(field: string, value: string, max: number): void {
  if (value.length > max) {
    throw new SignatureError('InvalidParameter', `${field} is ${value.length} characters long; at most ${max} are allowed`, field);
  }
}

function checkAccessKeyId(field: string, value: string): void {
  checkLength(field, value, SIGNATURE_MAX_ACCESS_KEY_ID_LENGTH);
  if (!ACCESS_KEY_ID_RE.test(value)) {
    throw new SignatureError('InvalidParameter', `${field} ${quoteForError(value)} may contain only letters, digits, '.', '_' and '-'`, field);
  }
}

/** Returns the nonce TTL: at least the configured TTL, and long enough to outlive the timestamp's validity. */
function checkTimestamp(field: string, value: string, now: Date): number {
  const ts = parseAcsTimestamp(value);
  if (ts === null) {
    throw new SignatureError(
      'InvalidTimeStamp.Format',
      `${field} ${quoteForError(value)} is not a UTC timestamp of the form YYYY-MM-DDThh:mm:ssZ`,
      field,
    );
  }
  const skewMs = SIGNATURE_MAX_CLOCK_SKEW_SECONDS * 1000;
  if (Math.abs(now.getTime() - ts) > skewMs) {
    throw new SignatureError(
      'InvalidTimeStamp.Expired',
      `${field} "${value}" differs from server time by more than ${SIGNATURE_MAX_CLOCK_SKEW_SECONDS} seconds`,
      field,
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
    throw new SignatureError('InvalidAccessKeyId.NotFound', `${field} "${accessKeyId}" does not exist`, field);
  }
  if (!key.enabled) {
    throw new SignatureError('InvalidAccessKeyId.Inactive', `${field} "${accessKeyId}" is disabled`, field);
  }
  return key;
}

async function claimNonce(nonces: NonceStore, accessKeyId: string, nonce: string, ttl: number, field: string): Promise<void> {
  if (!(await nonces.claim(accessKeyId, nonce, ttl))) {
    throw new SignatureError('SignatureNonceUsed', `${field} "${nonce}" has already been used`, field);
  }
}

const ACS3_REQUIRED_HEADERS = ['host', 'x-acs-content-sha256', 'x-acs-date', 'x-acs-signature-nonce'] as const;

async function verifyAcs3(
  req: SignedRequest,
  query: ParameterMap,
  headers: Record<string, string>,
  authorization: string,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date,
): Promise<AuthenticatedRequest> {
  // 1. completeness and bounds
  checkLength('authorization', authorization, ACS3_MAX_AUTHORIZATION_LENGTH);
  const auth = parseAcs3Authorization(authorization);
  if (auth === null) {
    throw new SignatureError(
      'IncompleteSignature',
      `authorization header is malformed; expected "${ACS3_ALGORITHM} Credential=<AccessKeyId>,SignedHeaders=<h1;h2>,Signature=<hex>"`,
      'authorization',
    );
  }
  checkAccessKeyId('Credential', auth.accessKeyId);
  if (auth.signedHeaders.length > ACS3_MAX_SIGNED_HEADERS) {
    throw new SignatureError('InvalidParameter', `SignedHeaders lists ${auth.signedHeaders.length} headers; at most ${ACS3_MAX_SIGNED_HEADERS} are allowed`, 'SignedHeaders');
  }
  for (const name of ACS3_REQUIRED_HEADERS) {
    const value = headers[name];
    if (value === undefined || value.trim() === '') {
      throw new SignatureError('IncompleteSignature', `required header ${name} is missing`, name);
    }
    if (!auth.signedHeaders.includes(name)) {
      throw new SignatureError('IncompleteSignature', `SignedHeaders must include ${name}`, name);
    }
  }
  for (const name of auth.signedHeaders) {
    const value = headers[name];
    if (value === undefined) {
      throw new SignatureError('IncompleteSignature', `signed header ${name} is not present in the request`, name);
    }
    checkLength(name, value, ACS3_MAX_SIGNED_HEADER_VALUE_LENGTH);
  }
  for (const name of Object.keys(headers)) {
    if (isAcs3SignableHeader(name) && !auth.signedHeaders.includes(name)) {
      throw new SignatureError('IncompleteSignature', `header ${name} is present but not listed in SignedHeaders`, name);
    }
  }
  const date = (headers['x-acs-date'] ?? '').trim();
  const nonce = (headers['x-acs-signature-nonce'] ?? '').trim();
  const claimedPayloadHash = (headers['x-acs-content-sha256'] ?? '').trim();
  checkLength('x-acs-signature-nonce', nonce, SIGNATURE_MAX_NONCE_LENGTH);
  if (!SHA256_HEX_RE.test(claimedPayloadHash)) {
    throw new SignatureError('SignatureDoesNotMatch', 'x-acs-content-sha256 must be the hex SHA-256 of the request body', 'x-acs-content-sha256');
  }

  // 2. timestamp window
  const nonceTtl = checkTimestamp('x-acs-date', date, now);

  // 3. body hash: the signature covers the declared hash, so the declared hash must be the
  //    body's (the raw body as received, before any Content-Encoding is undone)
  if (!safeEqual(claimedPayloadHash.toLowerCase(), hashPayload(req.body))) {
    throw new SignatureError('SignatureDoesNotMatch', 'x-acs-content-sha256 does not match the SHA-256 of the request body', 'x-acs-content-sha256');
  }

  // 4. key lookup
  const key = await lookupKey(keys, auth.accessKeyId, 'Credential');

  // 5. signature (method, path, query, signed headers and the body hash)
  const expected = signAcs3(
    {
      method: req.method,
      path: req.path,
      query,
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
      'authorization',
    );
  }

  // 6. nonce (claimed by the caller of authenticate: verifyRequest at once)
  const accessKeyId = auth.accessKeyId;
  return { accountId: key.accountId, accessKeyId, scheme: 'acs3', claimNonce: () => claimNonce(nonces, accessKeyId, nonce, nonceTtl, 'x-acs-signature-nonce') };
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
  params: ParameterMap,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date,
): Promise<AuthenticatedRequest> {
  // 1. completeness and bounds
  for (const name of RPC_REQUIRED_PARAMS) {
    const value = params[name];
    if (value === undefined || value === '') {
      throw new SignatureError('IncompleteSignature', `required parameter ${name} is missing`, name);
    }
  }
  if (params['SignatureMethod'] !== RPC_SIGNATURE_METHOD) {
    throw new SignatureError('IncompleteSignature', `SignatureMethod must be ${RPC_SIGNATURE_METHOD}`, 'SignatureMethod');
  }
  if (params['SignatureVersion'] !== RPC_SIGNATURE_VERSION) {
    throw new SignatureError('IncompleteSignature', `SignatureVersion must be ${RPC_SIGNATURE_VERSION}`, 'SignatureVersion');
  }
  const method = req.method.toUpperCase();
  if (method !== 'GET' && method !== 'POST') {
    throw new SignatureError('IncompleteSignature', `HTTP method ${method} cannot carry an RPC (HMAC-SHA1) signature`, 'method');
  }
  const rpcMethod: RpcMethod = method;
  const signature = params['Signature'] ?? '';
  const accessKeyId = params['AccessKeyId'] ?? '';
  const nonce = params['SignatureNonce'] ?? '';
  checkLength('Signature', signature, RPC_MAX_SIGNATURE_LENGTH);
  checkAccessKeyId('AccessKeyId', accessKeyId);
  checkLength('SignatureNonce', nonce, SIGNATURE_MAX_NONCE_LENGTH);

  // 2. timestamp window
  const nonceTtl = checkTimestamp('Timestamp', params['Timestamp'] ?? '', now);

  // 3. key lookup
  const key = await lookupKey(keys, accessKeyId, 'AccessKeyId');

  // 4. signature (every parameter, query and form body alike, and the method)
  if (!safeEqual(signature, signRpc(rpcMethod, params, key.accessKeySecret))) {
    throw new SignatureError('SignatureDoesNotMatch', 'Signature does not match the signature computed for this request', 'Signature');
  }

  // 5. nonce (claimed by the caller of authenticate: verifyRequest at once)
  return { accountId: key.accountId, accessKeyId, scheme: 'rpc-v1', claimNonce: () => claimNonce(nonces, accessKeyId, nonce, nonceTtl, 'SignatureNonce') };
}

/**
 * Verifies an Alibaba Cloud signed request, its nonce claimed last (see authenticateRequest).
 * Throws {@link SignatureError} on any failure; errors from `keys`/`nonces` propagate as-is.
 */
export async function verifyRequest(
  req: SignedRequest,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date = new Date(),
  options: VerifyOptions = {},
): Promise<VerifiedRequest> {
  const { claimNonce, ...verified } = await authenticateRequest(req, keys, nonces, now, options);
  await claimNonce();
  return verified;
}

/**
 * Checks an Alibaba Cloud signed request up to its nonce: bounds, timestamp, body hash, key and
 * signature; the nonce is claimed when the caller calls claimNonce() (verifyRequest does at
 * once). A dispatcher may send the claim together with a read-only action's first reads — one
 * round trip — provided it answers only after the claim resolved. An `authorization` header starting with
 * ACS3-HMAC-SHA256 selects V3; anything else is an RPC v1.0 request whose parameters are the
 * query string and a form body (parseRequestParameters). A route that does not accept the
 * scheme the request uses gets IncompleteSignature naming what it needs.
 * Throws {@link SignatureError} on any failure (PayloadTooLargeError for a form body over its
 * bound, when the parameters are parsed here); errors from `keys`/`nonces` propagate as-is.
 */
export async function authenticateRequest(
  req: SignedRequest,
  keys: KeyLookup,
  nonces: NonceStore,
  now: Date = new Date(),
  options: VerifyOptions = {},
): Promise<AuthenticatedRequest> {
  const schemes = options.schemes ?? ['rpc-v1', 'acs3'];
  const headers = lowerCaseKeys(req.headers);
  const authorization = headers['authorization'];
  if (authorization !== undefined && authorization.trimStart().startsWith(ACS3_ALGORITHM)) {
    if (!schemes.includes('acs3')) {
      throw new SignatureError('IncompleteSignature', `this API does not accept ${ACS3_ALGORITHM}; sign it with the RPC signature`, 'authorization');
    }
    const query = options.params?.query ?? parseQueryParameters(req.query);
    return verifyAcs3(req, query, headers, authorization, keys, nonces, now);
  }
  if (!schemes.includes('rpc-v1')) {
    throw new SignatureError(
      'IncompleteSignature',
      `authorization header with an ${ACS3_ALGORITHM} signature is required (x-acs-content-sha256 signed, covering the body); a signature in the query string does not cover the body`,
      'authorization',
    );
  }
  const params = options.params ?? parseRequestParameters(req);
  return verifyRpc(req, params.all, keys, nonces, now);
}
