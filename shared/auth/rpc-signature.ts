/**
 * Alibaba Cloud RPC request signature: SignatureMethod=HMAC-SHA1, SignatureVersion=1.0
 * (called "signature method V2 for RPC APIs" in the current docs).
 *
 * Source: https://help.aliyun.com/en/sdk/product-overview/rpc-mechanism
 *   CanonicalizedQueryString = sorted (by name) percentEncode(name)=percentEncode(value),
 *                              joined by '&', all parameters except Signature
 *   StringToSign = HTTPMethod + '&' + percentEncode('/') + '&' + percentEncode(CanonicalizedQueryString)
 *   Signature    = Base64(HMAC-SHA1(AccessKeySecret + '&', UTF-8(StringToSign)))
 *
 * Pure: no I/O besides node:crypto.
 */
import { createHmac, randomUUID } from 'node:crypto';
import { compareCodeUnits, percentEncode } from './percent-encode.ts';

export type RpcMethod = 'GET' | 'POST';

export const RPC_SIGNATURE_METHOD = 'HMAC-SHA1';
export const RPC_SIGNATURE_VERSION = '1.0';

/** Sorted, percent-encoded `k=v&k=v` string over every parameter except `Signature`. */
export function canonicalizeRpcParams(params: Record<string, string>): string {
  return Object.keys(params)
    .filter((name) => name !== 'Signature')
    .sort(compareCodeUnits)
    .map((name) => `${percentEncode(name)}=${percentEncode(params[name] ?? '')}`)
    .join('&');
}

export function rpcStringToSign(method: RpcMethod, params: Record<string, string>): string {
  return `${method}&${percentEncode('/')}&${percentEncode(canonicalizeRpcParams(params))}`;
}

/** Base64 HMAC-SHA1 of the StringToSign, keyed with `accessKeySecret + "&"`. */
export function signRpc(method: RpcMethod, params: Record<string, string>, accessKeySecret: string): string {
  return createHmac('sha1', `${accessKeySecret}&`).update(rpcStringToSign(method, params), 'utf8').digest('base64');
}

/** `YYYY-MM-DDThh:mm:ssZ` (UTC, no fractional seconds), the format the docs require. */
export function formatAcsTimestamp(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface SignRpcRequestInput {
  method: RpcMethod;
  params: Record<string, string>;
  accessKeyId: string;
  accessKeySecret: string;
  /** Defaults to params.SignatureNonce, else a random UUID. */
  nonce?: string;
  /** Defaults to params.Timestamp, else the current time. */
  timestamp?: Date | string;
}

/**
 * Returns a new parameter set ready to send (as query string or form body):
 * fills SignatureMethod, SignatureVersion, SignatureNonce, Timestamp and Format=JSON
 * when missing, sets AccessKeyId, and adds Signature. The input is not mutated.
 */
export function signRpcRequest(input: SignRpcRequestInput): Record<string, string> {
  const out: Record<string, string> = { ...input.params };
  delete out['Signature'];

  out['AccessKeyId'] = input.accessKeyId;
  out['SignatureMethod'] ??= RPC_SIGNATURE_METHOD;
  out['SignatureVersion'] ??= RPC_SIGNATURE_VERSION;
  out['Format'] ??= 'JSON';

  if (input.nonce !== undefined) out['SignatureNonce'] = input.nonce;
  else out['SignatureNonce'] ??= randomUUID();

  if (input.timestamp !== undefined) {
    out['Timestamp'] = typeof input.timestamp === 'string' ? input.timestamp : formatAcsTimestamp(input.timestamp);
  } else {
    out['Timestamp'] ??= formatAcsTimestamp(new Date());
  }

  out['Signature'] = signRpc(input.method, out, input.accessKeySecret);
  return out;
}
